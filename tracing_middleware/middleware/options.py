"""Options shared by every inbound adapter (ASGI, WSGI, Flask, Django), under the same names.

Trust policy for incoming context. By default the caller's trace is continued. ``trusted_networks``,
``trust`` (a predicate) and ``shared_secret`` narrow that; when several are given, all must pass. An
untrusted caller gets a new root run; its claimed parent is kept as a link in the run's metadata
(``link.langsmith_trace`` / ``link.traceparent``), and its baggage (metadata, tags, project) and
sampling decision are dropped.
"""

from __future__ import annotations

import hmac
import ipaddress
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tracing_middleware.core.redaction import REDACTED, secret_name

__all__ = ["MiddlewareOptions", "RequestInfo", "NEVER_CAPTURED", "startup_options"]

NEVER_CAPTURED = frozenset({"authorization", "cookie", "set-cookie", "proxy-authorization"})


@dataclass(frozen=True)
class RequestInfo:
    """What a trust predicate or a run-name function sees of a request."""

    method: str
    path: str
    query_string: str
    client_host: str | None
    # Lowercase names, every value. Empty unless an option reads headers (capture_headers, run_name,
    # trust, shared_secret): the ASGI middleware skips decoding them otherwise.
    headers: Sequence[tuple[str, str]]
    route: str | None = None  # the route template, once routing has resolved it

    def header(self, name: str) -> str | None:
        """The first value of a header (name in any case), or None."""
        name = name.lower()
        return next((value for key, value in self.headers if key == name), None)


def _networks(values: Iterable[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ValueError(f"trusted_networks entries must be IP networks like '10.0.0.0/8'; got {value!r}") from None
    return tuple(networks)


@dataclass(frozen=True)
class MiddlewareOptions:
    """Validated middleware options; every adapter accepts these as keyword arguments."""

    exclude_paths: Sequence[str] = ()
    request_run: bool = True
    capture_headers: Sequence[str] = ()
    run_name: Callable[[RequestInfo], str] | None = None
    trusted_networks: Sequence[str] | None = None
    trust: Callable[[RequestInfo], bool] | None = None
    shared_secret: str | None = None
    secret_header: str = "x-tracing-secret"
    project_name: str | None = None
    instrument_outbound: bool = True
    _networks: tuple[Any, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.exclude_paths, str) or isinstance(self.capture_headers, str):
            raise TypeError("exclude_paths and capture_headers take a list of strings, not one string")
        if not isinstance(self.secret_header, str) or not self.secret_header.strip():
            raise TypeError(f"secret_header must be a header name; got {self.secret_header!r}")
        captured = tuple(h.lower() for h in self.capture_headers)
        forbidden = NEVER_CAPTURED.union({self.secret_header.lower()}).intersection(captured)
        if forbidden:
            raise ValueError(f"these headers are never recorded: {', '.join(sorted(forbidden))}")
        object.__setattr__(self, "capture_headers", captured)
        object.__setattr__(self, "exclude_paths", tuple(self.exclude_paths))
        for name in ("run_name", "trust"):
            value = getattr(self, name)
            if value is not None and not callable(value):
                raise TypeError(f"{name} must be a function taking a RequestInfo")
        if self.trusted_networks is not None:
            if isinstance(self.trusted_networks, str):
                raise TypeError("trusted_networks takes a list of networks, e.g. ['10.0.0.0/8']")
            object.__setattr__(self, "_networks", _networks(self.trusted_networks))
        if self.shared_secret is not None and not self.shared_secret:
            raise ValueError("shared_secret must be a non-empty string")
        object.__setattr__(self, "secret_header", self.secret_header.lower())

    def excluded(self, path: str) -> bool:
        """True for a path not to trace: an exact entry, or a prefix entry ending in ``*``."""
        for pattern in self.exclude_paths:
            if pattern.endswith("*"):
                if path.startswith(pattern[:-1]):
                    return True
            elif path == pattern:
                return True
        return False

    @property
    def checks_trust(self) -> bool:
        """Whether any trust rule is set (otherwise every caller is trusted)."""
        return self.trusted_networks is not None or self.trust is not None or self.shared_secret is not None

    def trusted(self, info: RequestInfo) -> bool:
        """Whether this caller's trace context may be continued. Never raises."""
        try:
            if self.trusted_networks is not None:
                if info.client_host is None:
                    return False
                address = ipaddress.ip_address(info.client_host)
                if not any(address in network for network in self._networks):
                    return False
            if self.shared_secret is not None:
                sent = info.header(self.secret_header) or ""
                if not hmac.compare_digest(sent.encode("latin-1", "replace"), self.shared_secret.encode()):
                    return False
            return self.trust is None or bool(self.trust(info))
        except Exception:  # a bad address or a failing predicate: do not trust
            return False

    def captured(self, info: RequestInfo) -> dict[str, str]:
        """The allowlisted request headers, for the run's inputs; secret-looking names (``x-api-key``) as REDACTED."""
        if not self.capture_headers:
            return {}
        return {
            key: REDACTED if secret_name(key) else value for key, value in info.headers if key in self.capture_headers
        }


def options_from(kwargs: dict[str, Any]) -> MiddlewareOptions:
    """``MiddlewareOptions`` from adapter keyword arguments, naming the valid ones on a typo."""
    valid = [name for name in MiddlewareOptions.__dataclass_fields__ if not name.startswith("_")]
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        raise TypeError(f"unknown option(s) {unknown}; valid options: {', '.join(valid)}")
    return MiddlewareOptions(**kwargs)


# The error types launchers report in one line, without a traceback: gunicorn's for an app that fails to
# load (it then stops instead of restarting workers), click's (``flask run``), Django's management
# commands' (``runserver``). Looked up in sys.modules only: a launcher that is not running is not imported.
_LAUNCHER_ERRORS = (
    ("gunicorn.errors", "AppImportError"),
    ("click.exceptions", "ClickException"),
    ("django.core.management.base", "CommandError"),
)


class _OneLine(Exception):
    """Mixin of a bad-option error: the attributes click and Django read when they print it."""

    exit_code = 1  # click
    show_color: bool | None = None  # click
    returncode = 1  # Django's CommandError

    def __init__(self, message: str) -> None:
        Exception.__init__(self, message)
        self.message = message

    def format_message(self) -> str:  # click
        return self.message

    def __str__(self) -> str:
        return self.message


def startup_options(kwargs: dict[str, Any]) -> MiddlewareOptions:
    """``options_from`` for adapters built while a server starts (WSGI, Flask, Django).

    A bad option raises the same TypeError/ValueError, naming the valid choices, whose class is also
    the error type of whichever launcher is running, so gunicorn, ``flask run`` and ``runserver`` print
    it as one line (``tracing_middleware: bad middleware option: ...``) and stop, without a traceback.
    """
    try:
        return options_from(kwargs)
    except (TypeError, ValueError) as error:
        raise startup_error(error) from None


def startup_error(error: TypeError | ValueError) -> Exception:
    """The one-line, launcher-readable form of a bad-option ``error`` (still a TypeError/ValueError)."""
    base: type[Exception] = ValueError if isinstance(error, ValueError) else TypeError
    launchers = [getattr(sys.modules.get(module), name, None) for module, name in _LAUNCHER_ERRORS]
    bases = tuple(cls for cls in launchers if isinstance(cls, type) and issubclass(cls, Exception))
    try:
        kind = type("MiddlewareOptionError", (_OneLine, base, *bases), {"__module__": __name__})
    except TypeError:  # an unexpected layout in a launcher's class: the plain form, still one message
        kind = type("MiddlewareOptionError", (_OneLine, base), {"__module__": __name__})
    made: Exception = kind(f"tracing_middleware: bad middleware option: {error}")
    return made
