"""Reading and writing the tracing headers on any carrier.

A carrier is whatever a framework or client hands us: a ``dict``, ASGI's list of ``(bytes, bytes)``
pairs (or a whole ASGI scope), a WSGI environ, werkzeug/Flask ``Headers`` (not a ``Mapping``),
httpx/requests headers. Names are matched in any case; values may be ``str``, ``bytes`` or a list of
either. Every value of a repeated header is kept, so the codecs can decide what duplicates mean.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

__all__ = [
    "TRACE",
    "BAGGAGE",
    "TRACEPARENT",
    "TRACESTATE",
    "read_headers",
    "read_pairs",
    "read_environ",
    "write_headers",
]

TRACE = "langsmith-trace"
BAGGAGE = "baggage"
TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
WANTED = (TRACE, BAGGAGE, TRACEPARENT, TRACESTATE)
_ENVIRON_KEYS = {"HTTP_" + name.upper().replace("-", "_"): name for name in WANTED}
_ENVIRON_ITEMS = tuple(_ENVIRON_KEYS.items())
_BYTES_NAMES = {name.encode(): name for name in WANTED}
# A carrier with more items than this is not a header set; scanning it is not worth the time.
_MAX_ITEMS = 4096

Found = dict[str, list[str]]


def _text(value: Any) -> list[str]:
    """One raw header value as text; bytes are latin-1, as HTTP header bytes are."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (bytes, bytearray)):
        return [bytes(value).decode("latin-1")]
    if isinstance(value, (list, tuple)):
        out: list[str] = []
        for item in value[:16]:
            if isinstance(item, (str, bytes, bytearray)):
                out.extend(_text(item))
        return out
    return []


def _add(found: Found, name: str, value: Any) -> None:
    # One str or bytes value is the usual case: skip _text's isinstance chain.
    if type(value) is bytes:
        values = [value.decode("latin-1")]
    elif type(value) is str:
        values = [value]
    else:
        values = _text(value)
    if values:
        found.setdefault(name, []).extend(values)


def _name(key: Any) -> str | None:
    """The wanted header this key names, in any case, or None."""
    if isinstance(key, str):
        lowered = key.lower()
        return lowered if lowered in WANTED else None
    if isinstance(key, (bytes, bytearray)):
        return _BYTES_NAMES.get(bytes(key).lower())
    return None


def _scan(found: Found, items: Iterable[Any]) -> None:
    for count, item in enumerate(items):
        if count >= _MAX_ITEMS:
            break
        try:
            key, value = item
        except (TypeError, ValueError):
            continue
        # ASGI's (bytes, bytes) pairs are the hot case: one dict lookup, no isinstance chain.
        name = _BYTES_NAMES.get(key.lower()) if type(key) is bytes else _name(key)
        if name is not None:
            _add(found, name, value)


def read_headers(carrier: Any) -> Found:
    """The values of the four tracing headers in ``carrier``, lowercase names; never raises."""
    found: Found = {}
    try:
        _read(carrier, found)
    except Exception:  # a hostile carrier object must not break the request
        return {}
    return found


def read_pairs(pairs: Any) -> Found:
    """``read_headers`` for an ASGI scope's ``headers`` (a list of ``(bytes, bytes)`` pairs), on every request.

    The loop is ``_scan``'s without its per-item guards; anything it cannot read (not a list, an item
    that is not a pair, a name that is not bytes) is read again by ``read_headers``, so the result is
    the same.
    """
    if type(pairs) is not list or len(pairs) > _MAX_ITEMS:
        return read_headers(pairs)
    found: Found = {}
    get = _BYTES_NAMES.get
    try:
        for key, value in pairs:
            if type(key) is not bytes:
                return read_headers(pairs)
            name = get(key.lower())
            if name is not None:
                if type(value) is not bytes:
                    return read_headers(pairs)
                if name in found:
                    found[name].append(value.decode("latin-1"))
                else:
                    found[name] = [value.decode("latin-1")]
    except Exception:
        return read_headers(pairs)
    return found


def read_environ(environ: Any) -> Found:
    """``read_headers`` for a WSGI environ (a dict with ``REQUEST_METHOD`` or ``wsgi.version``), on every request."""
    if type(environ) is not dict or "headers" in environ:  # not plainly an environ: the general rules
        return read_headers(environ)
    found: Found = {}
    try:
        if "REQUEST_METHOD" not in environ and "wsgi.version" not in environ:
            _scan(found, environ.items())
            return found
        for key, name in _ENVIRON_ITEMS:
            if key in environ:
                _add(found, name, environ[key])
    except Exception:  # a hostile value object must not break the request
        return {}
    return found


def _read(carrier: Any, found: Found) -> None:
    if carrier is None:
        return
    if isinstance(carrier, dict):
        if "headers" in carrier and "type" in carrier and isinstance(carrier.get("headers"), (list, tuple)):
            _scan(found, carrier["headers"])  # an ASGI scope
            return
        if "REQUEST_METHOD" in carrier or "wsgi.version" in carrier:
            for key, name in _ENVIRON_KEYS.items():
                if key in carrier:
                    _add(found, name, carrier[key])
            return
        _scan(found, carrier.items())
        return
    if isinstance(carrier, (list, tuple)):
        _scan(found, carrier)
        return
    # httpx.Headers has get_list, werkzeug.Headers / Starlette Headers have getlist: both keep repeats.
    getlist = getattr(carrier, "get_list", None) or getattr(carrier, "getlist", None)
    if callable(getlist):
        for name in WANTED:
            values = getlist(name)
            if values:
                _add(found, name, list(values))
        return
    items = getattr(carrier, "items", None)
    if callable(items):
        _scan(found, items())


def write_headers(carrier: Any, headers: Mapping[str, str]) -> None:
    """Set ``headers`` on ``carrier``, replacing any value under the same name in any case.

    Raises ``TypeError`` for a carrier that cannot take headers.
    """
    if isinstance(carrier, list):
        names = {name.encode("latin-1") for name in headers}
        # An empty list is taken to be ASGI's; otherwise the pairs' own kind is kept.
        as_bytes = not carrier or isinstance(carrier[0][0], (bytes, bytearray))
        carrier[:] = [
            pair
            for pair in carrier
            if (pair[0].lower() if isinstance(pair[0], (bytes, bytearray)) else pair[0].lower().encode("latin-1"))
            not in names
        ]
        for name, value in headers.items():
            if as_bytes:
                carrier.append((name.encode("latin-1"), value.encode("latin-1")))
            else:
                carrier.append((name, value))
        return
    if isinstance(carrier, dict):
        if "type" in carrier and isinstance(carrier.get("headers"), list):  # an ASGI scope
            write_headers(carrier["headers"], headers)
            return
        if "REQUEST_METHOD" in carrier or "wsgi.version" in carrier:  # a WSGI environ
            carrier.update({"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()})
            return
        stale = [key for key in carrier if isinstance(key, str) and key.lower() in headers and key not in headers]
        for key in stale:
            del carrier[key]
        carrier.update(headers)
        return
    if isinstance(carrier, MutableMapping) or hasattr(carrier, "__setitem__"):
        # httpx, requests and werkzeug headers replace case-insensitively on assignment.
        for name, value in headers.items():
            carrier[name] = value
        return
    raise TypeError(
        f"cannot write headers to {type(carrier).__name__}: pass a dict, a list of pairs or a headers object"
    )
