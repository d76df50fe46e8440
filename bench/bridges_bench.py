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

Each case's figure is its best round (µs per request, CPU time of the thread), and "added" is the
median over the rounds of its difference to ``none`` measured in the same round. On a shared,
loaded machine the figures still move by about a µs between runs: compare within one run, and run
it twice.

``--instructions`` counts instead the instructions the bridges add per request, with valgrind's
cachegrind (about 20 s per count): a figure the machine's load does not move.

``--against DIR`` compares this tree with another checkout of the package (A/B): the peers-installed
process is run for each tree in turn, ``--pairs`` times, and each case's "added" is given as the
minimum and the median over those runs, so load that comes and goes hits both trees alike.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from typing import Any

CHILD = r"""
import json, os, sys, time, timeit
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

if sys.argv[1] == "count":  # only run requests (for an instruction counter): the bridges named, N requests
    import gc
    gc.disable()  # a collection would fall at different points in the runs compared
    bridges.apply(tuple(name for name in sys.argv[4].split(",") if name))
    for _ in range(50 + number):
        one()
    sys.exit(0)
cases = {"none": ("none",), "auto": tuple(bridges.NAMES)} if hidden else {
    "none": (), "langsmith": ("langsmith",), "otel": ("otel",), "langsmith,otel": ("langsmith", "otel")}
for _ in range(2000):
    one()
best, on, added = {}, {}, {case: [] for case in cases}
order = list(cases)
for index in range(rounds):
    taken = {}
    for case in order[index % len(order):] + order[:index % len(order)]:  # rotated: no case always runs last
        names = cases[case]
        on[case] = list(bridges.apply(() if names == ("none",) else names))
        # CPU time of this thread: time the machine gives other processes is not counted
        taken[case] = min(timeit.repeat(one, timer=time.thread_time, number=number, repeat=3)) / number * 1e6
        best[case] = min(best.get(case, taken[case]), taken[case])
    for case in cases:  # paired with the case without bridges of the same round
        added[case].append(taken[case] - taken["none"])
loaded = [m for m, v in sys.modules.items() if v is not None and m.split(".")[0] in ("langsmith", "opentelemetry")]
median = {case: sorted(values)[len(values) // 2] for case, values in added.items()}
print(json.dumps({"best_us": best, "added_us": median, "bridges": on, "peer_modules": len(loaded)}))
"""


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(mode: str, rounds: int, number: int, root: str = ROOT) -> dict[str, Any]:
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


def compare(against: str, pairs: int, rounds: int, number: int) -> dict[str, dict[str, dict[str, float]]]:
    """Each tree's added µs per case (min, median) over ``pairs`` alternating runs with the peers installed."""
    trees = {"this": ROOT, "against": os.path.abspath(against)}
    added: dict[str, dict[str, list[float]]] = {name: {} for name in trees}
    for index in range(pairs):
        for name in list(trees)[index % 2 :] + list(trees)[: index % 2]:  # alternate which tree goes first
            result = run("installed", rounds, number, trees[name])["added_us"]
            for case, value in result.items():
                added[name].setdefault(case, []).append(value)
    return {
        name: {case: {"min": min(v), "median": statistics.median(v)} for case, v in cases.items()}
        for name, cases in added.items()
    }


def instructions(cases: list[str], low: int = 200, high: int = 2200) -> dict[str, float]:
    """Instructions per request with the peers installed, counted by valgrind: ``(I(high) - I(low)) / (high - low)``.

    Unlike times, the count does not depend on the machine's load; GC is off and the hash seed fixed,
    so two runs of the same code agree to a few hundred instructions per request.
    """
    env = {**os.environ, "PYTHONPATH": ROOT, "PYTHONHASHSEED": "0"}
    env.pop("TRACING_MIDDLEWARE_BRIDGES", None)
    counts: dict[str, float] = {}
    for case in cases:
        total = []
        for number in (low, high):
            done = subprocess.run(
                ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null", sys.executable,
                 "-c", CHILD, "count", "0", str(number), "" if case == "none" else case],
                capture_output=True, text=True, env=env, timeout=1800, check=True,
            )  # fmt: skip
            refs = [line for line in done.stderr.splitlines() if "I   refs:" in line or "I refs:" in line]
            total.append(int(refs[-1].split(":")[1].replace(",", "").strip()))
        counts[case] = (total[1] - total[0]) / (high - low)
    return {case: counts[case] - counts["none"] for case in cases}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20, help="interleaved rounds per case")
    parser.add_argument("--number", type=int, default=1000, help="requests per timed repeat")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--against", metavar="DIR", help="another checkout to compare with (A/B)")
    parser.add_argument("--pairs", type=int, default=6, help="runs per tree with --against")
    parser.add_argument(
        "--instructions", action="store_true", help="instructions added per request instead (needs valgrind)"
    )
    args = parser.parse_args()
    if args.instructions:
        added = instructions(["none", "langsmith", "otel", "langsmith,otel"])
        print(
            json.dumps({"added_instructions": added})
            if args.json
            else "\n".join(f"{case:<16}{value:>+10.0f} instructions per request" for case, value in added.items())
        )
        return
    if args.against:
        result = compare(args.against, args.pairs, args.rounds, args.number)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        if args.json:
            print(json.dumps({"added_us": result, "loadavg_1m": load}))
            return
        print(f"added µs per request, peers installed; {args.pairs} runs per tree, alternating; 1-min load {load}")
        print(f"{'case':<16}{'this min':>10}{'median':>9}{'against min':>13}{'median':>9}")
        for case in result["this"]:
            this, other = result["this"][case], result["against"][case]
            print(
                f"{case:<16}{this['min']:>+10.2f}{this['median']:>+9.2f}{other['min']:>+13.2f}{other['median']:>+9.2f}"
            )
        return
    rows = []
    for mode in ("hidden", "installed"):
        result = run(mode, args.rounds, args.number)
        for case, best in result["best_us"].items():
            rows.append(
                {
                    "peers": mode,
                    "case": case,
                    "us_per_request": round(best, 2),
                    "added_us": round(result["added_us"][case], 2),
                    "registered": result["bridges"][case],
                    "peer_modules_loaded": result["peer_modules"],
                }
            )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    if args.json:
        print(json.dumps({"rows": rows, "loadavg_1m": load}))
        return
    print(
        f"per request: WSGI middleware + one @traceable; {args.rounds} rounds (best; added: median); 1-min load {load}"
    )
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
