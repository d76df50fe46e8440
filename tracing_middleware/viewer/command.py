"""``tracing-middleware serve``: the viewer on 127.0.0.1, behind a Host check and a one-time token.

Its arguments and its runner live here, so the CLI only has to add ``add_parser`` (or ``setup``) and
call ``run``. Importing this module imports neither starlette nor uvicorn.
"""

from __future__ import annotations

import argparse
import secrets
import socket
import sys
import threading
import webbrowser
from typing import Any
from urllib.parse import quote

from tracing_middleware.viewer.guard import loopback

__all__ = ["add_parser", "allowed_hosts", "run", "setup", "viewer_url"]

SUMMARY = "Serve a local web viewer of the trace store (waterfalls, filters, live updates, services)"
_WILDCARDS = {"0.0.0.0", "::", ""}


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535; got {text!r}")
    return int(text)


def setup(parser: argparse.ArgumentParser) -> None:
    """Add ``serve``'s arguments to its (sub)parser."""
    parser.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS,
                        help="the trace store (default: $TRACING_MIDDLEWARE_DB, else the default store)")  # fmt: skip
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=8765, help="port to listen on (default 8765)")
    parser.add_argument("--open", action="store_true", help="open the viewer in the default web browser")
    parser.add_argument("--trace", metavar="ID", help="print (and --open) the URL of this trace")
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help="also answer to this Host name (a proxy's or the machine's name); repeatable")  # fmt: skip
    parser.add_argument("--no-token", action="store_true",
                        help="no token: anyone who can reach the port (any local user) reads every trace")  # fmt: skip


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``serve`` subcommand to an ``add_subparsers()`` object; its handler is ``run``."""
    parser: argparse.ArgumentParser = subparsers.add_parser("serve", help=SUMMARY, description=SUMMARY)
    setup(parser)
    parser.set_defaults(serve=run)
    return parser


def allowed_hosts(host: str, extra: list[str]) -> set[str]:
    """The ``Host`` names the server answers to: its own address, localhost, and ``extra``."""
    names = {"localhost", "127.0.0.1", "::1", *(h.strip().lower() for h in extra if h.strip())}
    if host.strip("[]") in _WILDCARDS:
        names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
    else:
        names.add(host.strip("[]").lower())
    return names


def viewer_url(host: str, port: int, token: str | None, trace_id: str | None = None) -> str:
    """The URL to print: the listening address (localhost for a wildcard), the page, and the token."""
    shown = "127.0.0.1" if host.strip("[]") in _WILDCARDS else host.strip("[]")
    if ":" in shown:
        shown = f"[{shown}]"
    path = f"/traces/{quote(trace_id.strip(), safe='')}" if trace_id else "/"
    return f"http://{shown}:{port}{path}" + (f"?token={token}" if token else "")


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; returns the exit status (1 when the server cannot start)."""
    try:
        import uvicorn

        from tracing_middleware.viewer.app import create_app
        from tracing_middleware.viewer.guard import ServeGuard
    except ImportError as error:
        print(f"tracing-middleware: {error} (pip install 'tracing-middleware[viewer]')", file=sys.stderr)
        return 1
    host: str = args.host
    token = None if args.no_token else secrets.token_urlsafe(24)
    app = create_app(getattr(args, "db", None))
    guarded = ServeGuard(
        app, allowed_hosts=allowed_hosts(host, args.allow_host), token=token, cookie_name=f"tm_viewer_{args.port}"
    )
    url = viewer_url(host, args.port, token, args.trace)
    if not loopback(host.strip("[]")):
        print(f"warning: listening on {host}: other machines can reach this viewer"
              + ("" if token else ", and with --no-token they can read every trace"), file=sys.stderr)  # fmt: skip
    if token is None:
        print("warning: --no-token: every local user and program that can reach the port can read every trace",
              file=sys.stderr)  # fmt: skip
    print(f"tracing-middleware viewer of {app_store(app)}", flush=True)
    print(f"open: {url}", flush=True)
    config = uvicorn.Config(guarded, host=host.strip("[]"), port=args.port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    if args.open:
        threading.Thread(target=_open_when_started, args=(server, url), daemon=True).start()
    try:
        server.run()
    except KeyboardInterrupt:
        return 0
    return 0 if server.started else 1


def app_store(app: Any) -> str:
    """The store path the app reads (for the start-up line)."""
    inner = app
    while not hasattr(inner, "state") and hasattr(inner, "app"):
        inner = inner.app
    return str(getattr(getattr(inner, "state", None), "store_path", "the default store"))


def _open_when_started(server: Any, url: str) -> None:
    import time

    deadline = time.monotonic() + 30
    while not server.started and not server.should_exit and time.monotonic() < deadline:
        time.sleep(0.05)
    if server.started:
        webbrowser.open(url)
