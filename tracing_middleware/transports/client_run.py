"""The outbound path shared by the httpx and requests integrations: decide, inject, run, finish.

For each HTTP exchange made inside a current run, ``begin`` decides what happens:

- no current run, tracing off or suppressed, or a ``langsmith-trace`` the caller set by hand: nothing;
- an excluded URL (``exclude_urls``): nothing;
- otherwise a *client run* (``GET host/path``, a child of the current run) is made, and, when the URL
  is a propagation target and the request is not SigV4-signed, the headers naming the client run
  are written, so the downstream request run hangs under it. With ``client_runs=False`` only the
  current run's headers are written.

Each value we write under ``langsmith-trace`` is remembered (a bounded table), so an exchange seen by
two of our layers (nested wrappers) gets one client run and one set of headers, while a copy of our
headers on a redirected or re-sent request is replaced. (A patched client whose request goes through
an explicit ``TracingTransport``/``TracingAdapter`` leaves the work to it, so its options apply.)
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any, NamedTuple

from tracing_middleware.core import config, ids
from tracing_middleware.core import destinations as _targets
from tracing_middleware.core import runtime as _rt
from tracing_middleware.core.context import current_parent, current_state
from tracing_middleware.core.lifecycle import finish_run, new_run
from tracing_middleware.core.propagation import baggage
from tracing_middleware.core.propagation.carriers import BAGGAGE, TRACE, TRACEPARENT, TRACESTATE
from tracing_middleware.core.run_tree import RunTree

__all__ = [
    "Options",
    "Override",
    "Hop",
    "Switch",
    "begin",
    "apply",
    "current_parent",
    "global_options",
    "make_override",
    "options_for",
    "set_global_options",
]

_MAX_REMEMBERED = 4096
# Query parameters whose names contain one of these are recorded as REDACTED in ``http.url``.
_SECRET_WORDS = ("token", "key", "secret", "sig", "pass", "auth", "credential", "session", "code", "amz-")
_SECRET_NAME = re.compile("|".join(_SECRET_WORDS), re.IGNORECASE)


class Options(NamedTuple):
    """How outbound requests are traced."""

    client_runs: bool
    targets: _targets.PropagationTargets


def global_options() -> Options:
    """The options of the patched clients; targets from the environment until ``instrument`` sets them."""
    runtime = _rt.current
    options: Options | None = runtime.outbound_options
    if options is None:
        options = runtime.outbound_options = Options(True, _targets.PropagationTargets.from_env())
    return options


def set_global_options(options: Options) -> None:
    """Replace the options of the patched clients."""
    _rt.current.outbound_options = options


class Override(NamedTuple):
    """An explicit transport's own options; None fields follow the global options at request time."""

    client_runs: bool | None
    targets: _targets.PropagationTargets | None

    def resolve(self) -> Options:
        """The options in force for one request."""
        base = global_options()
        return Options(
            base.client_runs if self.client_runs is None else self.client_runs,
            base.targets if self.targets is None else self.targets,
        )


def make_override(client_runs: bool | None, targets: Any) -> Override | None:
    """Checked options of an explicit transport or adapter; None when it only follows the global ones."""
    if client_runs is not None and not isinstance(client_runs, bool):
        raise TypeError(f"client_runs must be True, False or None (follow instrument()); got {client_runs!r}")
    if client_runs is None and targets is None:
        return None
    return Override(client_runs, None if targets is None else as_targets(targets))


def options_for(override: Override | None) -> Options:
    """The options for one request through a transport with ``override``."""
    return global_options() if override is None else override.resolve()


def as_targets(targets: Any) -> _targets.PropagationTargets:
    """``targets`` as given to ``instrument``/transports: None (environment), patterns, or targets."""
    if targets is None:
        return _targets.PropagationTargets.from_env()
    if isinstance(targets, _targets.PropagationTargets):
        return targets
    if isinstance(targets, (str, list, tuple, set, frozenset)):
        return _targets.PropagationTargets(targets)
    raise TypeError(
        f"targets must be None, a list of host patterns / URL prefixes, or PropagationTargets; got {targets!r}"
    )


class Hop:
    """One HTTP exchange we act on: the client run (if any), the headers to write, and its state."""

    __slots__ = ("active", "headers", "request_id", "run", "status", "strip")

    def __init__(
        self, run: RunTree | None, headers: dict[str, str] | None, request_id: int, strip: bool = False
    ) -> None:
        self.run = run
        self.headers = headers
        self.request_id = request_id
        self.strip = strip
        self.active = True
        self.status: int | None = None

    def respond(self, status: int) -> None:
        """The response's status line arrived."""
        self.status = status

    def end(self, error: BaseException | None = None) -> None:
        """Finish the client run (once): status in outputs and metadata, 5xx or ``error`` as the error."""
        if not self.active:
            return
        self.active = False
        run = self.run
        if run is None:
            return
        self.run = None  # remembered hops stay small: only the exchange's identity is kept
        status = self.status
        if status is not None:
            run.metadata["http.status_code"] = status
            if status >= 500 and error is None:
                run.error = f"HTTP {status}"
            if error is None and run.end_us is None:
                # finish_run(run, None, {"status_code": status}) without its general cases: the common end.
                run.outputs = {"status_code": status}
                now = ids.now_us()
                run.end_us = now if now >= run.start_us else run.start_us
                config.record(run)
                return
        finish_run(run, None, None if status is None else {"status_code": status}, error)


# Runtime.remembered holds two generations: when the newer one is full it becomes the older one, and the
# older one is dropped. O(1) for every operation, and each single step is atomic under the GIL: no lock.
def _remember(value: str, hop: Hop) -> None:
    remembered = _rt.current.remembered
    newer = remembered[0]
    newer[value] = hop
    if len(newer) >= _MAX_REMEMBERED:
        remembered[:] = [{}, newer]


def _recall(value: str) -> Hop | None:
    newer, older = _rt.current.remembered
    hop: Hop | None = newer.get(value) or older.get(value)
    return hop


def _redacted(url: str, query: str) -> str:
    if not query:
        return url
    if _SECRET_NAME.search(query) is None:  # the common case: nothing to hide
        return f"{url}?{query}"
    parts = []
    for item in query.split("&"):
        key, eq, _value = item.partition("=")
        lowered = key.lower()
        parts.append(f"{key}=REDACTED" if eq and any(w in lowered for w in _SECRET_WORDS) else item)
    return f"{url}?{'&'.join(parts)}"


class Switch:
    """Whether a patch acts; set off by ``uninstrument`` when the patch cannot be taken out."""

    __slots__ = ("on",)

    def __init__(self) -> None:
        self.on = True


def begin(
    parent: RunTree,
    options: Options,
    request_id: int,
    method: str,
    scheme: str,
    host: str,
    port: int | None,
    path: str,
    query: str,
    trace_header: str | None,
    authorization: str | None,
) -> Hop | None:
    """Decide for one exchange under ``parent`` (see the module docstring); None: leave it untouched."""
    copied = False
    if trace_header is not None:
        earlier = _recall(trace_header)
        if earlier is None:
            return None  # set by the caller: respected
        if earlier.active and earlier.request_id == request_id:
            return None  # an outer layer already handles this very exchange
        copied = True  # our header from an earlier exchange (redirect, re-send): replace it
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    url = f"{scheme}://{netloc}{path}"
    if _rt.current.excluded_urls and _targets.is_excluded(url):
        return Hop(None, None, request_id, strip=True) if copied else None
    targets = options.targets
    # "amz-" in the query is necessary for a presigned URL: most requests skip the SigV4 check.
    send = (targets.all or targets.allows(scheme, host, port, url)) and not (
        (authorization is not None or (query and "amz-" in query.lower())) and _targets.is_sigv4(authorization, query)
    )
    settings = config.get_settings()
    if not settings.enabled:
        return None
    if not options.client_runs:
        if not send:
            return Hop(None, None, request_id, strip=True) if copied else None
        headers = parent.to_headers(w3c=settings.w3c)
        hop = Hop(None, headers, request_id, strip=copied)
        _remember(headers[TRACE], hop)
        return hop
    name = f"{method} {netloc}{path}"
    state = current_state()
    if state.tags or state.metadata or state.project_name or state.run is not parent:
        # Scoped defaults to merge: what start_run makes; the client run is never current.
        run = new_run(state, settings, name, "chain", None, None, None, None, parent)
    else:
        run = parent.create_child(name)  # what start_run makes here, without making it current
    # Headers before the http.* metadata: baggage carries the caller's metadata, not this request's.
    sent = run.to_headers(w3c=settings.w3c) if send else None
    metadata = run.metadata
    metadata["http.method"] = method
    # _redacted(url, query) with its common case (no secret-looking name) spared the call.
    metadata["http.url"] = (
        (f"{url}?{query}" if _SECRET_NAME.search(query) is None else _redacted(url, query)) if query else url
    )
    hop = Hop(run, sent, request_id, copied)
    if sent is not None:
        remembered = _rt.current.remembered  # _remember(sent[TRACE], hop), inlined on the per-request path
        newer = remembered[0]
        newer[sent[TRACE]] = hop
        if len(newer) >= _MAX_REMEMBERED:
            remembered[:] = [{}, newer]
    return hop


def apply(hop: Hop, carrier: MutableMapping[str, Any], found_baggage: list[str], found_traceparent: bool) -> None:
    """Write ``hop``'s headers into a request's headers (or remove ours copied from an earlier exchange).

    ``found_baggage``: the request's ``baggage`` values; its other vendors' members are kept.
    ``found_traceparent``: the caller set ``traceparent`` (another tracer): it is kept unless we are
    replacing our own copy.
    """
    if hop.strip:
        for name in (TRACE, TRACEPARENT, TRACESTATE):
            carrier.pop(name, None)
        found_traceparent = False
    written = hop.headers
    if written is None:
        if hop.strip and found_baggage:
            _set_baggage(carrier, baggage.merge(found_baggage, ""))
        return
    ours = written.get(BAGGAGE, "")
    carrier[TRACE] = written[TRACE]
    if found_baggage:
        _set_baggage(carrier, baggage.merge(found_baggage, ours))
    elif ours:
        carrier[BAGGAGE] = ours
    if not found_traceparent and TRACEPARENT in written:
        carrier[TRACEPARENT] = written[TRACEPARENT]
        if TRACESTATE in written:
            carrier[TRACESTATE] = written[TRACESTATE]


def _set_baggage(carrier: MutableMapping[str, Any], value: str) -> None:
    if value:
        carrier[BAGGAGE] = value
    else:
        carrier.pop(BAGGAGE, None)
