"""Per-request cost of the inbound middleware (ASGI, WSGI, FastAPI) over the bare app, in one process.

Run: ``python bench/inbound_bench.py`` (a table) or ``--json``; ``--only asgi,wsgi`` narrows the kinds.
Bare and traced apps are timed in turns (round-robin, ``--repeats`` rounds) so a load change on a shared
machine hits both; each row shows the best round in µs per request and the cost added over the bare app
of the same kind and headers. Runs go to a discarding exporter.

``--instructions`` counts instead the instructions each case adds per request, with valgrind's cachegrind
(about 20 s per case): a figure the machine's load does not move. ``--against DIR`` adds the same count for
another checkout of the package (before/after).

Headers: none; ``traceparent``; ``langsmith-trace`` + ``baggage`` as LangSmith's SDK sends them. Modes:
recorded (the default); ``unsampled`` (``configure(sample_rate=0)``: context still propagates, nothing is
exported); ``disabled`` (``configure(enabled=False)``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tracing_middleware as tm
from bench.asgi_hooks import DiscardExporter
from tracing_middleware.middleware.asgi import TracingMiddleware
from tracing_middleware.middleware.wsgi import WSGITracingMiddleware

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
LANGSMITH = {
    "langsmith-trace": "20240101T120000123456Z0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
    ".20240101T120001000001Z0190a1b2-c3d5-7aaa-9bbb-cccccccccccc",
    "baggage": "langsmith-metadata=%7B%22tenant%22%3A%22acme%22%7D,langsmith-tags=edge,langsmith-project=bench",
}
BASE = {"host": "svc.internal:8000", "user-agent": "bench/1.0", "accept": "*/*"}
HEADERS = {"none": BASE, "traceparent": {**BASE, "traceparent": TRACEPARENT}, "langsmith": {**BASE, **LANGSMITH}}


async def raw_asgi(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


def raw_wsgi(environ: Any, start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


def fastapi_app() -> Any:
    from fastapi import FastAPI
    from fastapi.responses import PlainTextResponse

    app = FastAPI()

    @app.get("/items/{item_id}", response_class=PlainTextResponse)
    async def read_item(item_id: int) -> str:
        return "ok"

    return app


def scope_factory(headers: dict[str, str]) -> Callable[[], dict[str, Any]]:
    pairs = [(k.encode(), v.encode()) for k, v in headers.items()]

    def make() -> dict[str, Any]:
        return {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
            "path": "/items/42", "raw_path": b"/items/42", "root_path": "", "query_string": b"q=1",
            "headers": list(pairs), "client": ("127.0.0.1", 54321), "server": ("127.0.0.1", 8000), "state": {},
        }  # fmt: skip

    return make


def environ_factory(headers: dict[str, str]) -> Callable[[], dict[str, Any]]:
    template: dict[str, Any] = {
        "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/items/42", "QUERY_STRING": "q=1",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
    }  # fmt: skip
    template.update({"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()})

    def make() -> dict[str, Any]:
        environ = dict(template)
        environ["wsgi.input"] = io.BytesIO(b"")
        return environ

    return make


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: Any) -> None:
    return None


def _start_response(status: str, headers: Any, exc_info: Any = None) -> None:
    return None


def time_asgi(app: Any, make: Callable[[], dict[str, Any]], n: int) -> float:
    async def loop() -> float:
        started = time.perf_counter()
        for _ in range(n):
            await app(make(), _receive, _send)
        return time.perf_counter() - started

    return asyncio.run(loop()) / n * 1e6


def time_wsgi(app: Any, make: Callable[[], dict[str, Any]], n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        body = app(make(), _start_response)
        for _chunk in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return (time.perf_counter() - started) / n * 1e6


Case = tuple[str, str, str, Callable[[int], float]]


def cases(kinds: Iterable[str]) -> list[Case]:
    """(kind, headers, label, timer) for every case; labels "bare" and "ours"."""
    out: list[Case] = []
    for kind in kinds:
        if kind == "asgi":
            bare, ours, factory, timer = raw_asgi, TracingMiddleware(raw_asgi), scope_factory, time_asgi
        elif kind == "wsgi":
            wrapped = WSGITracingMiddleware(raw_wsgi, instrument_outbound=False)
            bare, ours, factory, timer = raw_wsgi, wrapped, environ_factory, time_wsgi
        elif kind == "fastapi":
            try:
                bare, ours = fastapi_app(), TracingMiddleware(fastapi_app())
            except ImportError:
                print("# fastapi not installed: FastAPI cases skipped", file=sys.stderr)
                continue
            factory, timer = scope_factory, time_asgi
        else:
            raise SystemExit(f"--only takes asgi, wsgi, fastapi; got {kind!r}")
        for variant, headers in HEADERS.items():
            make = factory(headers)
            for label, app in (("bare", bare), ("ours", ours)):
                out.append((kind, variant, label, lambda n, a=app, m=make, t=timer: t(a, m, n)))  # type: ignore[misc]
    return out


def run(kinds: list[str], mode: str, n: int, repeats: int) -> list[dict[str, Any]]:
    if mode == "recorded":
        tm.configure(exporter=DiscardExporter())
    elif mode == "unsampled":
        tm.configure(exporter=DiscardExporter(), sample_rate=0.0)
    else:
        tm.configure(exporter=DiscardExporter(), enabled=False)
    todo = cases(kinds)
    best: dict[tuple[str, str, str], float] = {}
    for case in todo:
        case[3](max(200, n // 5))  # warm up
    for _ in range(repeats):
        for kind, variant, label, timer in todo:
            gc.collect()
            took = timer(n)
            key = (kind, variant, label)
            best[key] = min(best.get(key, took), took)
    rows = []
    for (kind, variant, label), value in best.items():
        if label == "ours":
            bare = best[(kind, variant, "bare")]
            rows.append({"kind": kind, "headers": variant, "mode": mode, "bare_us": bare, "ours_us": value,
                         "added_us": value - bare})  # fmt: skip
    return rows


# One case's requests after a warm-up, GC off: what ``--instructions`` counts. Run in the checkout being
# counted, whose own copy of this module supplies the apps (so an older checkout can be compared too).
CHILD = r"""
import gc, sys
import tracing_middleware as tm
from bench import inbound_bench as ib
from bench.asgi_hooks import DiscardExporter
kind, variant, label, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
tm.configure(exporter=DiscardExporter())
if kind == "wsgi":
    app = ib.raw_wsgi if label == "bare" else ib.WSGITracingMiddleware(ib.raw_wsgi, instrument_outbound=False)
    make, timer = ib.environ_factory(ib.HEADERS[variant]), ib.time_wsgi
else:
    app = ib.raw_asgi if kind == "asgi" else ib.fastapi_app()
    app = app if label == "bare" else ib.TracingMiddleware(app)
    make, timer = ib.scope_factory(ib.HEADERS[variant]), ib.time_asgi
timer(app, make, 300)
gc.disable()
timer(app, make, n)
"""


def instructions(tree: str, kind: str, variant: str, low: int = 200, high: int = 1200) -> float:
    """Instructions ``tree``'s middleware adds per request: ``(I(high) - I(low)) / (high - low)``, ours minus bare."""
    env = {**os.environ, "PYTHONPATH": tree, "PYTHONHASHSEED": "0"}
    per_request = {}
    for label in ("bare", "ours"):
        counts = []
        for number in (low, high):
            done = subprocess.run(
                ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null", sys.executable,
                 "-c", CHILD, kind, variant, label, str(number)],
                capture_output=True, text=True, env=env, cwd=tree, timeout=1800, check=True,
            )  # fmt: skip
            refs = [line for line in done.stderr.splitlines() if "I   refs:" in line or "I refs:" in line]
            counts.append(int(refs[-1].split(":")[1].replace(",", "").strip()))
        per_request[label] = (counts[1] - counts[0]) / (high - low)
    return per_request["ours"] - per_request["bare"]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("-n", type=int, default=3000, help="requests per case per round")
    parser.add_argument("--repeats", type=int, default=5, help="rounds; the best is reported")
    parser.add_argument("--only", default="asgi,wsgi,fastapi", help="comma list of asgi, wsgi, fastapi")
    parser.add_argument("--modes", default="recorded,unsampled,disabled", help="comma list of the modes")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--instructions", action="store_true", help="count instructions per request (valgrind)")
    parser.add_argument("--headers", default="none,traceparent", help="with --instructions: comma list of headers")
    parser.add_argument("--against", metavar="DIR", help="with --instructions: also count another checkout")
    args = parser.parse_args()
    kinds = [k.strip() for k in args.only.split(",") if k.strip()]
    if args.instructions:
        trees = {"this tree": ROOT} | ({"against": os.path.abspath(args.against)} if args.against else {})
        for kind in kinds:
            for variant in args.headers.split(","):
                added = {name: instructions(tree, kind, variant) for name, tree in trees.items()}
                print(f"{kind:8} {variant:12}" + "".join(f" {name}: {value:+9.0f}" for name, value in added.items()))
        return
    rows = []
    for mode in args.modes.split(","):
        if mode not in ("recorded", "unsampled", "disabled"):
            raise SystemExit(f"--modes takes recorded, unsampled, disabled; got {mode!r}")
        rows += run(kinds, mode, args.n, args.repeats)
    if args.json:
        print(json.dumps({"python": platform.python_version(), "load": os.getloadavg(), "rows": rows}, indent=2))
        return
    print(f"# Python {platform.python_version()}; best of {args.repeats} rounds of {args.n}; load {os.getloadavg()}")
    print(f"| {'kind':7} | {'headers':11} | {'mode':9} | {'bare µs':>8} | {'ours µs':>8} | {'+µs':>7} |")
    print(f"|{'-' * 9}|{'-' * 13}|{'-' * 11}|{'-' * 10}|{'-' * 10}|{'-' * 9}|")
    for row in rows:
        print(
            f"| {row['kind']:7} | {row['headers']:11} | {row['mode']:9} | {row['bare_us']:8.2f} "
            f"| {row['ours_us']:8.2f} | {row['added_us']:+7.2f} |"
        )


if __name__ == "__main__":
    main()
