"""Per-request cost of the bridges to LangSmith's SDK and OpenTelemetry, each case in a fresh process.

Run: ``python bench/bridges_bench.py`` (a table) or ``--json``. A "request" is one call of
``WSGITracingMiddleware`` around a trivial WSGI app whose handler runs one ``@traceable`` function
(two runs made current, as in a small real handler), recording to a discarding exporter. Cases:

- ``baseline``: ``configure(bridges="none")`` (the peers installed but not bridged);
- ``neither``: langsmith and opentelemetry hidden from the process (as if not installed);
- ``langsmith-idle``: the LangSmith bridge on, langsmith imported, nothing asking for its parent;
- ``otel-provider``: the OpenTelemetry bridge on with an SDK tracer provider set (no span started);
- ``both``: both bridges, langsmith idle and a provider set.

Each case runs ``--repeats`` times in its own interpreter, interleaved with the others; the table
gives the best µs per request and the difference to ``baseline``. Figures taken on a shared,
loaded machine vary by a few tenths of a µs between runs: compare within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import timeit
from typing import Any

CASES = ("baseline", "neither", "langsmith-idle", "otel-provider", "both")

CHILD = r"""
import json, os, sys, timeit
case, number, repeat = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if case == "neither":
    for name in ("langsmith", "opentelemetry", "langchain_core"):
        sys.modules[name] = None
os.environ.pop("LANGSMITH_TRACING", None)
import tracing_middleware as tm
from tracing_middleware import WSGITracingMiddleware

class Discard:
    def export(self, runs): pass
    def shutdown(self): pass

choice = {"baseline": "none", "neither": "auto", "langsmith-idle": ["langsmith"], "otel-provider": ["otel"],
          "both": ["langsmith", "otel"]}[case]
settings = tm.configure(exporter=Discard(), bridges=choice)
if case in ("otel-provider", "both"):
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    trace.set_tracer_provider(TracerProvider())
if case in ("langsmith-idle", "both"):
    import langsmith  # imported, as in an app using it elsewhere; nothing asks for its parent here

@tm.traceable
def handler_work():
    return b"ok"

def app(environ, start_response):
    start_response("200 OK", [("content-type", "text/plain")])
    return [handler_work()]

wrapped = WSGITracingMiddleware(app, instrument_outbound=False)
environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/items/1", "SERVER_NAME": "bench", "SERVER_PORT": "80",
           "wsgi.url_scheme": "http", "QUERY_STRING": "", "REMOTE_ADDR": "127.0.0.1"}
start = lambda status, headers, exc_info=None: None

def one():
    body = wrapped(dict(environ), start)
    for _ in body:
        pass
    close = getattr(body, "close", None)
    if close is not None:
        close()

for _ in range(2000):
    one()
times = timeit.repeat(one, number=number, repeat=repeat)
loaded = sorted(m for m, v in sys.modules.items() if v is not None and m.split(".")[0] in ("langsmith", "opentelemetry"))
print(json.dumps({"case": case, "best_us": min(times) / number * 1e6, "bridges": list(settings.bridges),
                  "peer_modules": len(loaded)}))
"""


def run_case(case: str, number: int, repeat: int) -> dict[str, Any]:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": root, "TRACING_MIDDLEWARE_BRIDGES": ""}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, case, str(number), str(repeat)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--number", type=int, default=5000, help="requests per timed repeat")
    parser.add_argument("--repeat", type=int, default=5, help="timed repeats per process")
    parser.add_argument("--repeats", type=int, default=3, help="processes per case, interleaved")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    best: dict[str, dict[str, Any]] = {}
    for _ in range(args.repeats):
        for case in CASES:
            result = run_case(case, args.number, args.repeat)
            if case not in best or result["best_us"] < best[case]["best_us"]:
                best[case] = result
    base = best["baseline"]["best_us"]
    rows = [{**best[case], "added_us": best[case]["best_us"] - base} for case in CASES]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    if args.json:
        print(json.dumps({"rows": rows, "loadavg_1m": load}))
        return
    print(f"per request (WSGI middleware + one @traceable), best of {args.repeats}x{args.repeat}; load {load}")
    print(f"{'case':<16}{'µs/request':>12}{'added µs':>10}  bridges            peer modules")
    for row in rows:
        print(
            f"{row['case']:<16}{row['best_us']:>12.2f}{row['added_us']:>+10.2f}  "
            f"{','.join(row['bridges']) or '-':<18} {row['peer_modules']}"
        )


if __name__ == "__main__":
    main()
