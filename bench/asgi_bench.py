"""Per-request cost of ``TracingMiddleware``, in one process, against the bare app.

Run: ``python bench/asgi_bench.py`` (a table) or ``--json``. A raw ASGI app (200 "ok") and a one-route
FastAPI app are awaited directly with a fake ``receive``/``send``, as a server would call them; runs go
to a discarding exporter. The loop count is calibrated so one repeat takes about ``--target-ms``; the
table shows the best and the median repeat in µs per request and the cost added over the bare app.

Cases: no propagation header; ``traceparent``; ``langsmith-trace`` + ``baggage`` as the real SDK sends
them; an excluded path; ``request_run=False``; tracing turned off with ``configure(enabled=False)``.

Against OpenTelemetry's and Sentry's middleware, use the shared peer benchmark with the hooks in
``bench/asgi_hooks.py`` (from the repository root, ``PYTHONPATH=.``)::

    python peer_overhead.py --kinds asgi,fastapi --ours bench.asgi_hooks:wrap --ours-setup bench.asgi_hooks:setup
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tracing_middleware as tm
from bench.asgi_hooks import setup, wrap

TRACEPARENT = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
LANGSMITH = {
    "langsmith-trace": "20240101T120000123456Z0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
    ".20240101T120001000001Z0190a1b2-c3d5-7aaa-9bbb-cccccccccccc",
    "baggage": "langsmith-metadata=%7B%22tenant%22%3A%22acme%22%7D,langsmith-tags=edge,langsmith-project=bench",
}
BASE_HEADERS = [(b"host", b"svc.internal:8000"), (b"user-agent", b"bench/1.0"), (b"accept", b"*/*")]


async def raw_app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


def fastapi_app() -> Any:
    from fastapi import FastAPI
    from fastapi.responses import PlainTextResponse

    app = FastAPI()

    @app.get("/items/{item_id}", response_class=PlainTextResponse)
    async def read_item(item_id: int) -> str:
        return "ok"

    return app


def scope_factory(headers: list[tuple[bytes, bytes]], path: str = "/items/42") -> Callable[[], dict[str, Any]]:
    def make() -> dict[str, Any]:
        return {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
            "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"q=1",
            "headers": list(headers), "client": ("127.0.0.1", 54321), "server": ("127.0.0.1", 8000), "state": {},
        }  # fmt: skip

    return make


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: Any) -> None:
    return None


async def _loop(app: Any, make: Callable[[], dict[str, Any]], n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        await app(make(), _receive, _send)
    return time.perf_counter() - started


def measure(app: Any, make: Callable[[], dict[str, Any]], repeats: int, target_ms: float) -> list[float]:
    """µs per request of each repeat."""

    async def run() -> list[float]:
        n = 100
        while (elapsed := await _loop(app, make, n)) < target_ms / 1000 / 4:  # calibrate (and warm up)
            n *= 2
        n = max(100, int(n * (target_ms / 1000) / elapsed))
        gc.collect()
        return [(await _loop(app, make, n)) / n * 1e6 for _ in range(repeats)]

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--target-ms", type=float, default=200.0)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    setup()
    langsmith = BASE_HEADERS + [(k.encode(), v.encode()) for k, v in LANGSMITH.items()]
    w3c = [*BASE_HEADERS, (b"traceparent", TRACEPARENT)]
    cases: list[tuple[str, str, Any, Callable[[], dict[str, Any]]]] = [
        ("asgi", "bare", raw_app, scope_factory(BASE_HEADERS)),
        ("asgi", "ours: no header", wrap(raw_app), scope_factory(BASE_HEADERS)),
        ("asgi", "ours: traceparent", wrap(raw_app), scope_factory(w3c)),
        ("asgi", "ours: langsmith-trace+baggage", wrap(raw_app), scope_factory(langsmith)),
        ("asgi", "ours: excluded path", wrap(raw_app, exclude_paths=["/items/*"]), scope_factory(langsmith)),
        ("asgi", "ours: request_run=False", wrap(raw_app, request_run=False), scope_factory(langsmith)),
    ]
    try:
        cases += [
            ("fastapi", "bare", fastapi_app(), scope_factory(langsmith)),
            ("fastapi", "ours: langsmith-trace+baggage", wrap(fastapi_app()), scope_factory(langsmith)),
        ]
    except ImportError:
        print("# fastapi not installed: FastAPI cases skipped", file=sys.stderr)
    rows = []
    for kind, label, app, make in cases:
        samples = measure(app, make, args.repeats, args.target_ms)
        rows.append({"kind": kind, "case": label, "best_us": min(samples), "median_us": statistics.median(samples)})
    tm.configure(exporter="none", enabled=False)
    samples = measure(wrap(raw_app), scope_factory(langsmith), args.repeats, args.target_ms)
    best, median = min(samples), statistics.median(samples)
    rows.append({"kind": "asgi", "case": "ours: tracing disabled", "best_us": best, "median_us": median})
    bare = {row["kind"]: row["best_us"] for row in rows if row["case"] == "bare"}
    for row in rows:
        row["added_us"] = row["best_us"] - bare[row["kind"]]
    if args.json:
        print(json.dumps({"python": platform.python_version(), "rows": rows}, indent=2))
        return
    print(f"# Python {platform.python_version()}; best and median of {args.repeats} repeats, µs per request")
    print(f"| {'kind':7} | {'case':32} | {'best':>8} | {'median':>8} | {'+µs':>7} |")
    print(f"|{'-' * 9}|{'-' * 34}|{'-' * 10}|{'-' * 10}|{'-' * 9}|")
    for row in rows:
        print(
            f"| {row['kind']:7} | {row['case']:32} | {row['best_us']:8.2f} | {row['median_us']:8.2f} "
            f"| {row['added_us']:+7.2f} |"
        )


if __name__ == "__main__":
    main()
