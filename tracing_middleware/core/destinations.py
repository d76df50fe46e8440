"""What an outbound request may carry: propagation targets, excluded URLs, signed requests.

Private by default. Each request gets one of three levels (``PropagationTargets.decide``):

- ``FULL`` (``langsmith-trace``, ``traceparent``/``tracestate`` and our ``baggage`` members: the run's
  metadata, tags and project): hosts inside the deployment (``hosts.internal_host``: loopback and
  private addresses, single-label names, ``.internal``, ``.svc``, ``.cluster.local``, …) and the
  targets the user names;
- ``NOTHING``: well-known hosted AI and cloud APIs (``hosts.well_known_api``: OpenAI, Anthropic,
  Google, Azure, AWS, …) that the user has not named: they never continue a trace;
- ``TRACE_IDS`` (``langsmith-trace`` and ``traceparent``/``tracestate``, no baggage of ours): every
  other host. Ids are random and say nothing about the user or the request; sending them is what
  OpenTelemetry and Sentry do by default, and it lets a partner's traced service join the trace.

Propagation targets widen the first level (``instrument(targets=...)``, ``TracingTransport(targets=...)``
or the ``TRACING_MIDDLEWARE_PROPAGATE_TO`` environment variable, comma-separated); each is one of:

- ``*``: every host, the well-known APIs included;
- ``api.partner.com``: that host, any port; ``api.partner.com:8443``: that host and port;
- ``*.partner.com`` (or ``*.partner.com:8443``): any subdomain of ``partner.com`` (not itself);
- ``https://api.example.com/v1``: a URL prefix. Scheme, host and port must match exactly (a default
  port may be left out) and the path must match at a ``/`` boundary, so ``https://api.example.com``
  does not match ``https://api.example.com.evil.net``.

``PropagationTargets(patterns, internal=False, public_trace_ids=False)`` is the strict form: only the
named targets get anything. A request that gets no header still gets its client run (the call is
part of the traced work).

``exclude_urls(prefix, ...)`` is a process-wide registry, same prefix rules, for endpoints that must
get neither headers nor client runs: exporters register their own ingestion URLs here.

Requests signed with AWS Signature Version 4 (``Authorization: AWS4-HMAC-SHA256 ...``, or a presigned
URL with ``X-Amz-Signature`` in its query) are never touched: added headers could break the signature.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from tracing_middleware.core import runtime as _rt
from tracing_middleware.core.env import env_text, warn_bad
from tracing_middleware.core.hosts import internal_host, well_known_api

__all__ = [
    "FULL",
    "NOTHING",
    "TRACE_IDS",
    "PropagationTargets",
    "current_targets",
    "level_for",
    "named_destination",
    "exclude_urls",
    "excluded_urls",
    "include_urls",
    "is_excluded",
    "is_sigv4",
    "ENV_VAR",
]

ENV_VAR = "TRACING_MIDDLEWARE_PROPAGATE_TO"
NOTHING, TRACE_IDS, FULL = 0, 1, 2
"""What a request may carry: no tracing header; trace ids only (no baggage of ours); everything."""
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_FORMS = "'*', 'host', 'host:port', '*.domain', '*.domain:port' or a URL prefix such as 'https://host/path'"


def _split_host_port(text: str) -> tuple[str, int | None]:
    """``host`` and ``port`` of ``host[:port]`` (IPv6 in brackets); ValueError when malformed."""
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError
        port_text = rest[1:] if rest else ""
    else:
        host, _, port_text = text.partition(":")
    if not host or any(c in host for c in " /?#@,"):
        raise ValueError
    port = int(port_text) if port_text else None
    if port is not None and not 0 < port < 65536:
        raise ValueError
    return host.lower(), port


def normalize_prefix(prefix: str) -> str:
    """A URL prefix in the form requests are compared in: lowercase scheme and host, no default port."""
    if not isinstance(prefix, str):
        raise TypeError(f"a URL prefix must be a string such as 'https://host/path'; got {type(prefix).__name__}")
    parts = urlsplit(prefix.strip())
    if not parts.scheme or not parts.netloc or "@" in parts.netloc:
        raise ValueError(f"a URL prefix must look like 'https://host[:port][/path]'; got {prefix!r}")
    host, port = _split_host_port(parts.netloc)
    scheme = parts.scheme.lower()
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != DEFAULT_PORTS.get(scheme):
        netloc = f"{netloc}:{port}"
    return f"{scheme}://{netloc}{parts.path}"


def prefix_matches(url: str, prefix: str) -> bool:
    """True when ``url`` starts with ``prefix`` at a path boundary."""
    if not url.startswith(prefix):
        return False
    return len(url) == len(prefix) or prefix.endswith("/") or url[len(prefix)] in "/?#"


class PropagationTargets:
    """Where full propagation goes besides the deployment's own hosts (see the module docstring).

    ``PropagationTargets(["*.partner.com", "api.example.com:8443", "https://partner.example/v2"])``;
    ``PropagationTargets(None)``: the default alone; ``["*"]``: every host; ``from_env()`` reads
    ``TRACING_MIDDLEWARE_PROPAGATE_TO``. ``internal=False``: the deployment's hosts get no special
    treatment; ``public_trace_ids=False``: other hosts get no header at all.
    """

    __slots__ = ("all", "hosts", "host_ports", "suffixes", "prefixes", "internal", "public_trace_ids", "_named")

    def __init__(
        self, patterns: Iterable[str] | None = None, *, internal: bool = True, public_trace_ids: bool = True
    ) -> None:
        if isinstance(patterns, str):
            patterns = [p for p in patterns.split(",") if p.strip()]
        for name, value in (("internal", internal), ("public_trace_ids", public_trace_ids)):
            if not isinstance(value, bool):
                raise TypeError(f"{name} must be True or False; got {value!r}")
        self.internal = internal
        self.public_trace_ids = public_trace_ids
        self.all = False
        self.hosts: set[str] = set()
        self.host_ports: set[tuple[str, int]] = set()
        self.suffixes: list[tuple[str, int | None]] = []
        self.prefixes: list[str] = []
        self._named = False  # whether any pattern other than "*" was given: spares ``named`` when not
        for pattern in patterns or ():
            self._add(pattern)

    def _add(self, pattern: object) -> None:
        if not isinstance(pattern, str):
            raise TypeError(f"propagation targets must be strings: {_FORMS}; got {type(pattern).__name__}")
        text = pattern.strip()
        if text == "*":
            self.all = True
            return
        self._named = True
        if "://" in text:
            self.prefixes.append(normalize_prefix(text))
            return
        wildcard = text.startswith("*.")
        try:
            host, port = _split_host_port(text[2:] if wildcard else text)
        except ValueError:
            raise ValueError(f"a propagation target must be {_FORMS}; got {pattern!r}") from None
        if "*" in host:
            raise ValueError(f"a propagation target must be {_FORMS}; got {pattern!r}")
        if wildcard:
            self.suffixes.append(("." + host, port))
        elif port is None:
            self.hosts.add(host)
        else:
            self.host_ports.add((host, port))

    @classmethod
    def from_env(cls) -> PropagationTargets:
        """Targets from ``TRACING_MIDDLEWARE_PROPAGATE_TO``; the default alone when it is unset or empty."""
        raw = env_text(ENV_VAR, "")
        if not raw:
            return cls(None)
        targets = cls([])
        for pattern in (p for p in raw.split(",") if p.strip()):
            try:
                targets._add(pattern)
            except ValueError:  # fail closed: a bad entry sends headers nowhere new
                warn_bad(ENV_VAR, pattern, _FORMS, "the other entries (no host when none is valid)")
        return targets

    def decide(self, scheme: str, host: str, port: int | None, url: str) -> int:
        """``FULL``, ``TRACE_IDS`` or ``NOTHING`` for a request to this URL (``host`` lowercase)."""
        if self.all or (self._named and self.named(scheme, host, port, url)) or (self.internal and internal_host(host)):
            return FULL
        if not self.public_trace_ids or well_known_api(host):
            return NOTHING
        return TRACE_IDS

    def allows(self, scheme: str, host: str, port: int | None, url: str) -> bool:
        """True when a request to this URL gets full propagation."""
        return self.decide(scheme, host, port, url) == FULL

    def named(self, scheme: str, host: str, port: int | None, url: str) -> bool:
        """True when a pattern given to these targets matches this URL (``host`` lowercase)."""
        if self.all:
            return True
        if host in self.hosts:
            return True
        effective = port if port is not None else DEFAULT_PORTS.get(scheme)
        if effective is not None and (host, effective) in self.host_ports:
            return True
        for suffix, suffix_port in self.suffixes:
            if host.endswith(suffix) and (suffix_port is None or suffix_port == effective):
                return True
        return any(prefix_matches(url, prefix) for prefix in self.prefixes)

    def __repr__(self) -> str:
        if self.all:
            return "PropagationTargets(all)"
        parts = sorted(self.hosts) + [f"{h}:{p}" for h, p in sorted(self.host_ports)]
        parts += [f"*{s}" + (f":{p}" if p else "") for s, p in self.suffixes] + self.prefixes
        flags = "" if self.internal else ", internal=False"
        flags += "" if self.public_trace_ids else ", public_trace_ids=False"
        return f"PropagationTargets({parts!r}{flags})"


@functools.lru_cache(maxsize=256)  # a service sends to the same few destinations over and over
def _destination(url: str) -> tuple[str, str, int | None, str] | None:
    text = url.strip()
    if "://" not in text:
        text = "//" + text  # a bare host[:port], as a Host or :authority header gives it
    try:
        parts = urlsplit(text)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return None
    if not host:
        return None
    scheme = parts.scheme.lower()
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    return scheme, host, port, f"{scheme}://{netloc}{parts.path or '/'}"


def level_for(url: str, targets: PropagationTargets | None = None) -> int:
    """``FULL``, ``TRACE_IDS`` or ``NOTHING`` for a request to ``url`` (or a bare ``host[:port]``).

    ``targets`` default to ``current_targets()``; an excluded or unreadable URL gets ``NOTHING``.
    """
    found = _destination(str(url))
    if found is None:
        return NOTHING
    scheme, host, port, normalized = found
    if _rt.current.excluded_urls and is_excluded(normalized):
        return NOTHING
    return (targets or current_targets()).decide(scheme, host, port, normalized)


def named_destination(carrier: Any) -> tuple[Any, str | None]:
    """The headers to write into and the destination ``carrier`` names, if it names one.

    A request object (httpx, requests: ``.url`` and ``.headers``; urllib: ``.full_url``) names its URL;
    a mapping of headers names its ``host`` / ``:authority``.
    """
    url = getattr(carrier, "url", None) or getattr(carrier, "full_url", None)
    headers = getattr(carrier, "headers", None)
    if url is not None and headers is not None and not isinstance(carrier, dict):
        return headers, str(url)
    if isinstance(carrier, Mapping):
        for key in carrier:
            if isinstance(key, str) and key.lower() in ("host", ":authority"):
                value = carrier[key]
                return carrier, value if isinstance(value, str) else None
    return carrier, None


def current_targets() -> PropagationTargets:
    """The targets of the patched clients (``instrument(targets=...)``), else from the environment."""
    options = _rt.current.outbound_options
    targets = getattr(options, "targets", None)
    return targets if isinstance(targets, PropagationTargets) else PropagationTargets.from_env()


_lock = threading.Lock()


def exclude_urls(*prefixes: str) -> None:
    """Never trace requests to these URL prefixes (no headers, no client run): e.g. an exporter's endpoint."""
    normalized = [normalize_prefix(p) for p in prefixes]
    with _lock:
        runtime = _rt.current
        excluded = runtime.excluded_urls
        runtime.excluded_urls = excluded + tuple(p for p in normalized if p not in excluded)


def include_urls(*prefixes: str) -> None:
    """Undo ``exclude_urls`` for these prefixes."""
    normalized = {normalize_prefix(p) for p in prefixes}
    with _lock:
        runtime = _rt.current
        runtime.excluded_urls = tuple(p for p in runtime.excluded_urls if p not in normalized)


def excluded_urls() -> tuple[str, ...]:
    """The excluded URL prefixes, normalized."""
    return _rt.current.excluded_urls


def is_excluded(url: str) -> bool:
    """True when ``url`` (normalized form, see ``normalize_prefix``) falls under an excluded prefix."""
    return any(prefix_matches(url, prefix) for prefix in _rt.current.excluded_urls)


def is_sigv4(authorization: str | None, query: str) -> bool:
    """True for an AWS SigV4-signed request: by its ``Authorization`` header or a presigned query."""
    if authorization and authorization.lstrip()[:16].upper() == "AWS4-HMAC-SHA256":
        return True
    return bool(query) and "x-amz-signature=" in query.lower()
