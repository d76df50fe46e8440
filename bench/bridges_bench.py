"""Per-request cost of the bridges to LangSmith's SDK and OpenTelemetry.

Run: ``python bench/bridges_bench.py`` (a table) or ``--json``. A "request" is one call of
``WSGITracingMiddleware`` around a trivial WSGI app whose handler runs one ``@traceable`` function
(two runs made current, as in a small handler), recording to a discarding exporter.

Two processes:

- **peers hidden**: langsmith and opentelemetry made unimportable (as if not installed); the default
  ``bridges="auto"`` against ``bridges="none"`` — nothing may be registered or imported;
- **peers installed**: langsmith imported (nothing asking for its parent) and an SDK tracer provider set
  (no span started); the cases ``none``, ``langsmith``, ``otel`` and ``langsmith,otel`` are switched
  with ``tracing_middleware.bridges.apply`` in interleaved rounds, so machine load hits them alike.

Each case's figure is its best round (µs per request), and "added" is its difference to ``none`` in the
same process. On a shared, loaded machine the figures move by about a µs between runs: compare
within one run, and run it twice.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Any

CHILD = r"""
import json, os, sys, timeit
hidden, rounds, number = sys.argv[1] == "hidden", int(sys.argv[2]), int(sys.argv[3])
if hidden:
    for name in ("langsmith", "opentelemetry", "langchain_core"):
        sys.modules[name] = None
os.environ.pop("LANGSMITH_TRACING", None)
import tracing_middleware as tm
from tracing_middleware import WSGITracingMiddleware, bridges

class Discard:
    def export(self, runs): pass
    def shutdown(self): pass

tm.configure(exporter=Discard())
if not hidden:
    import langsmith  # imported, as in an app using it elsewhere; nothing asks for its parent here
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    trace.set_tracer_provider(TracerProvider())

@tm.traceable
def handler_work():
    return b"ok"

def app(environ, start_response):
    start_response("200 OK", [("content-type", "text/plain")])
    return [handler_work()]

wrapped = WSGITracingMiddleware(app, instrument_outbound=False)
environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/items/1", "SERVER_NAME": "bench", "SERVER_PORT": "80",
           "wsgi.url_scheme": "http", "QUERY_STRING": "", "REMOTE_ADDR": "127.0.0.1"}

def start(status, headers, exc_info=None):
    return None

def one():
    body = wrapped(dict(environ), start)
    for _ in body:
        pass
    close = getattr(body, "close", None)
    if close is not None:
        close()

cases = {"none": ("none",), "auto": tuple(bridges.NAMES)} if hidden else {
    "none": (), "langsmith": ("langsmith",), "otel": ("otel",), "langsmith,otel": ("langsmith", "otel")}
for _ in range(2000):
    one()
best, on = {}, {}
order = list(cases)
for index in range(rounds):
    for case in order[index % len(order):] + order[:index % len(order)]:  # rotated: no case always runs last
        names = cases[case]
        on[case] = list(bridges.apply(() if names == ("none",) else names))
        taken = min(timeit.repeat(one, number=number, repeat=3)) / number * 1e6
        best[case] = min(best.get(case, taken), taken)
loaded = [m for m, v in sys.modules.items() if v is not None and m.split(".")[0] in ("langsmith", "opentelemetry")]
print(json.dumps({"best_us": best, "bridges": on, "peer_modules": len(loaded)}))
"""


def run(mode: str, rounds: int, number: int) -> dict[str, Any]:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": root}
    env.pop("TRACING_MIDDLEWARE_BRIDGES", None)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(rounds), str(number)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20, help="interleaved rounds per case")
    parser.add_argument("--number", type=int, default=1000, help="requests per timed repeat")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    rows = []
    for mode in ("hidden", "installed"):
        result = run(mode, args.rounds, args.number)
        base = result["best_us"]["none"]
        for case, best in result["best_us"].items():
            rows.append(
                {
                    "peers": mode,
                    "case": case,
                    "us_per_request": round(best, 2),
                    "added_us": round(best - base, 2),
                    "registered": result["bridges"][case],
                    "peer_modules_loaded": result["peer_modules"],
                }
            )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    if args.json:
        print(json.dumps({"rows": rows, "loadavg_1m": load}))
        return
    print(f"per request: WSGI middleware + one @traceable; best of {args.rounds} rounds; 1-min load {load}")
    print(f"{'peers':<11}{'case':<16}{'µs/request':>11}{'added':>8}  registered")
    for row in rows:
        registered = ",".join(row["registered"]) or "-"
        print(
            f"{row['peers']:<11}{row['case']:<16}{row['us_per_request']:>11.2f}{row['added_us']:>+8.2f}  {registered}"
        )
    hidden = next(row for row in rows if row["peers"] == "hidden")
    print(f"peer modules loaded with the peers hidden: {hidden['peer_modules_loaded']}")


if __name__ == "__main__":
    main()
