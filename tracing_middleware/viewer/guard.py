"""Who may use the viewer: a Host-header check against DNS rebinding, a token, and the mountable app's hook.

``ServeGuard`` wraps the app that ``tracing-middleware serve`` runs. A web page the user visits can make
its own hostname resolve to 127.0.0.1 (DNS rebinding) and then read any local server as same-origin;
the browser still sends that hostname in ``Host``, so only the names the server listens on pass. The
token stops other local users and pages that guess the port: it is printed inside the URL once, traded
for an HttpOnly, SameSite=Strict cookie on the first visit (and removed from the address bar), and
accepted as ``Authorization: Bearer <token>`` by scripts. The same rules cover the JSON API and the
live updates, which are ordinary requests.
"""

from __future__ import annotations

import hmac
import inspect
import ipaddress
from collections.abc import Awaitable, Callable, Collection
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from tracing_middleware.viewer.pages import SECURITY_HEADERS, message_page

__all__ = ["AuthHook", "AuthGuard", "ServeGuard", "host_allowed", "split_host"]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]
AuthHook = Callable[[Any], "bool | Awaitable[bool]"]


def split_host(value: str) -> str:
    """The hostname of a ``Host`` header value: port and IPv6 brackets removed, lower case."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else ""
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def host_allowed(host_header: str | None, allowed: Collection[str]) -> bool:
    """True when the request's ``Host`` names one of ``allowed`` (any port)."""
    if not host_header:
        return False
    return split_host(host_header) in allowed


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


async def _refuse(send: Send, status: int, title: str, text: str) -> None:
    body = message_page(title, text).encode()
    headers = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class ServeGuard:
    """Refuses requests whose ``Host`` is not allowed, and (unless ``token`` is None) those without the token."""

    def __init__(self, app: ASGIApp, *, allowed_hosts: Collection[str], token: str | None, cookie_name: str) -> None:
        if token is not None and len(token) < 16:
            raise ValueError("token must be at least 16 characters, or None for no token")
        self.app = app
        self.allowed = frozenset(h.lower() for h in allowed_hosts)
        self.token = token
        self.cookie_name = cookie_name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if not host_allowed(_header(scope, b"host"), self.allowed):
            await _refuse(send, 403, "Host not allowed",
                          "This viewer answers only to the address it listens on (or localhost).")  # fmt: skip
            return
        if self.token is None:
            await self.app(scope, receive, send)
            return
        query = parse_qsl(bytes(scope.get("query_string", b"")).decode("latin-1"), keep_blank_values=True)
        given = next((v for k, v in query if k == "token"), None)
        if given is not None and self._matches(given):
            if scope["type"] == "http" and scope.get("method") == "GET" and not scope["path"].startswith("/api/"):
                await self._trade_for_cookie(scope, send, [(k, v) for k, v in query if k != "token"])
                return
            await self.app(scope, receive, send)
            return
        if self._matches(self._cookie(scope)) or self._matches(self._bearer(scope)):
            await self.app(scope, receive, send)
            return
        await _refuse(send, 403, "Token required",
                      "Open the full URL that `tracing-middleware serve` printed: it holds the token.")  # fmt: skip

    def _matches(self, given: str | None) -> bool:
        assert self.token is not None
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    def _cookie(self, scope: Scope) -> str | None:
        raw = _header(scope, b"cookie")
        if not raw:
            return None
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(raw)
        except Exception:  # a malformed Cookie header is just no cookie
            return None
        morsel = jar.get(self.cookie_name)
        return None if morsel is None else morsel.value

    @staticmethod
    def _bearer(scope: Scope) -> str | None:
        raw = _header(scope, b"authorization")
        if raw and raw[:7].lower() == "bearer ":
            return raw[7:].strip()
        return None

    async def _trade_for_cookie(self, scope: Scope, send: Send, rest: list[tuple[str, str]]) -> None:
        # Keep the token out of the address bar, history and Referer: set the cookie, then reload clean.
        # One leading slash: "//host/..." would send the browser to another site.
        path = "/" + (str(scope.get("root_path", "")) + str(scope["path"])).lstrip("/")
        location = quote(path, safe="/:@!$&'()*+,;=-._~") + ("?" + urlencode(rest) if rest else "")
        cookie = f"{self.cookie_name}={self.token}; Path=/; HttpOnly; SameSite=Strict"
        headers = [(b"location", location.encode("ascii")), (b"set-cookie", cookie.encode()),
                   (b"content-length", b"0"), (b"cache-control", b"no-store")]  # fmt: skip
        headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
        await send({"type": "http.response.start", "status": 303, "headers": headers})
        await send({"type": "http.response.body", "body": b""})


class AuthGuard:
    """For the mountable app: ``auth(request)`` (sync or async) decides each request; False → 403."""

    def __init__(self, app: ASGIApp, auth: AuthHook) -> None:
        if not callable(auth):
            raise TypeError(f"auth must be a callable taking a starlette Request; got {type(auth).__name__}")
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            from starlette.requests import Request

            verdict = self.auth(Request(scope, receive))
            if inspect.isawaitable(verdict):
                verdict = await verdict
            if not verdict:
                await _refuse(send, 403, "Not allowed", "You are not allowed to see these traces.")
                return
        await self.app(scope, receive, send)


def loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
