"""Reading a WSGI environ (also Django's ``request.META``): headers, the ``RequestInfo``, a reported error."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, overload

from tracing_middleware.middleware.options import RequestInfo
from tracing_middleware.middleware.request import ERROR_KEY

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

__all__ = ["EnvironHeaders", "reported_error", "request_info", "wsgi_text"]


def wsgi_text(value: str) -> str:
    """A PEP 3333 "bytes as latin-1" string as the UTF-8 text the client sent."""
    if value.isascii():  # the usual path: ASCII reads the same either way
        return value
    try:
        return value.encode("latin-1").decode("utf-8", "replace")
    except UnicodeEncodeError:  # not a native string after all: keep it as it is
        return value


def _gather_headers(environ: WSGIEnvironment) -> tuple[tuple[str, str], ...]:
    headers = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            if isinstance(value, str):
                headers.append((key[5:].lower().replace("_", "-"), value))
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value and isinstance(value, str):
            headers.append((key.lower().replace("_", "-"), value))
    return tuple(headers)


class EnvironHeaders(Sequence[tuple[str, str]]):
    """An environ's headers as ``(lowercase name, value)`` pairs, gathered on first use.

    Most requests never look at them (they serve trust rules, captured headers and run-name
    functions), so the scan of the whole environ is skipped unless someone asks.
    """

    __slots__ = ("_environ", "_pairs")

    def __init__(self, environ: WSGIEnvironment) -> None:
        self._environ = environ
        self._pairs: tuple[tuple[str, str], ...] | None = None

    def _all(self) -> tuple[tuple[str, str], ...]:
        if self._pairs is None:
            self._pairs = _gather_headers(self._environ)
        return self._pairs

    @overload
    def __getitem__(self, index: int) -> tuple[str, str]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[tuple[str, str]]: ...
    def __getitem__(self, index: int | slice) -> tuple[str, str] | Sequence[tuple[str, str]]:
        return self._all()[index]

    def __len__(self) -> int:
        return len(self._all())

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._all())

    def __repr__(self) -> str:
        return repr(self._all())


def request_info(environ: WSGIEnvironment, path: str | None = None) -> RequestInfo:
    """What the trust policy and run names see of a WSGI request (also used with Django's ``request.META``)."""
    if path is None:
        path = wsgi_text(str(environ.get("SCRIPT_NAME") or "") + str(environ.get("PATH_INFO") or "")) or "/"
    return RequestInfo(
        method=str(environ.get("REQUEST_METHOD") or "GET").upper(),
        path=path,
        query_string=str(environ.get("QUERY_STRING") or ""),
        client_host=environ.get("REMOTE_ADDR") or None,
        headers=EnvironHeaders(environ),
    )


def reported_error(environ: WSGIEnvironment) -> BaseException | None:
    """The exception an adapter reported under ``ERROR_KEY`` (a handled one that became an error page)."""
    error = environ.get(ERROR_KEY)
    return error if isinstance(error, BaseException) else None
