"""``tracing-middleware serve``: the viewer on 127.0.0.1, behind a Host check and a one-time token.

A CLI command module: ``add_parser(subparsers)`` adds ``serve`` and its arguments, ``run(args)`` runs
it. Importing this module imports neither starlette nor uvicorn.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import socket
import sys
import threading
import webbrowser
from typing import Any
from urllib.parse import quote

from tracing_middleware.core.printable import printable
from tracing_middleware.viewer.guard import loopback

__all__ = ["add_parser", "allowed_hosts", "run", "setup", "viewer_url"]

SUMMARY = "Serve a local web viewer of the trace store (waterfalls, filters, live updates, services)"
_WILDCARDS = {"0.0.0.0", "::", ""}
_made: list[Any] = []  # folders of redirect files, removed at exit


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) < 65536:
        raise argparse.ArgumentTypeError(f"expected a port from 0 (any free port) to 65535; got {text!r}")
    return int(text)


def setup(parser: argparse.ArgumentParser) -> None:
    """Add ``serve``'s arguments to its (sub)parser."""
    parser.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS,
                        help="the trace store (default: $TRACING_MIDDLEWARE_DB, else the default store)")  # fmt: skip
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=8765, help="port to listen on (default 8765; 0: any free port)")
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
    return parser


def allowed_hosts(host: str, extra: list[str]) -> set[str]:
    """The ``Host`` names the server answers to: its own address, localhost, and ``extra``."""
    names = {"localhost", "127.0.0.1", "::1", *(h.strip().lower() for h in extra if h.strip())}
    if host.strip("[]") in _WILDCARDS:
        # Every address: the names and addresses this machine is reached by.
        hostname = socket.gethostname()
        names |= {hostname.lower(), socket.getfqdn().lower()}
        with contextlib.suppress(OSError):
            names |= {str(info[4][0]).lower() for info in socket.getaddrinfo(hostname, None)}
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
    host: str = args.host.strip("[]")
    try:
        sock = _listen(host, args.port)
    except OSError as error:
        reason = printable(f"cannot listen on {host}:{args.port}: {error.strerror or error}")
        print(f"tracing-middleware: {reason}", file=sys.stderr)
        return 1
    port = int(sock.getsockname()[1])
    token = None if args.no_token else secrets.token_urlsafe(24)
    app = create_app(getattr(args, "db", None))
    guarded = ServeGuard(
        app, allowed_hosts=allowed_hosts(host, args.allow_host), token=token, cookie_name=f"tm_viewer_{port}"
    )
    url = viewer_url(host, port, token, args.trace)
    if not loopback(host.strip("[]")):
        print(f"warning: listening on {printable(host)}: other machines can reach this viewer"
              + ("" if token else ", and with --no-token they can read every trace"), file=sys.stderr)  # fmt: skip
    if token is None:
        print("warning: --no-token: every local user and program that can reach the port can read every trace",
              file=sys.stderr)  # fmt: skip
    print(f"tracing-middleware viewer of {printable(app_store(app))}", flush=True)
    print(f"open: {url}", flush=True)
    config = uvicorn.Config(guarded, host=host, port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    if args.open:
        threading.Thread(target=_open_when_started, args=(server, url), daemon=True).start()
    with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
        # uvicorn re-raises the SIGTERM it stopped on; exit through ``finally`` so clean-up runs.
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        return 0
    finally:
        sock.close()
        for folder in _made:
            shutil.rmtree(folder, ignore_errors=True)
    return 0 if server.started else 1


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def _listen(host: str, port: int) -> socket.socket:
    """A bound, listening socket: a busy port is reported before any URL is printed."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


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
        webbrowser.open(redirect_file(url).as_uri())


def redirect_file(url: str) -> Any:
    """A private (0600) HTML file that forwards to ``url``, in a new 0700 folder.

    The browser is started with this file's name, so the token never appears on a command line that
    other local users can list (``ps``). ``run`` removes the folder when the server stops.
    """
    import html
    import pathlib
    import tempfile

    folder = pathlib.Path(tempfile.mkdtemp(prefix="tracing-middleware-"))  # created 0700
    path = folder / "open-viewer.html"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        target = html.escape(url)
        out.write(f'<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url={target}">'
                  f'<title>tracing-middleware viewer</title><a href="{target}">Open the viewer</a>')  # fmt: skip
    _made.append(folder)
    return path
