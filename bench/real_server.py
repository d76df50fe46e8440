#!/usr/bin/env python3
"""Throughput and tail latency of a real server, bare vs traced, measured side by side in one run.

A one-route app is served by a real server pinned to CPU 0 and loaded by `wrk` pinned to CPU 1, with an
incoming `traceparent`. Cases run interleaved, `--repeats` times; the table shows medians and each
case's share of bare throughput and multiple of bare p99, and the server's CPU time per request (user +
system, read from /proc for the server and its workers): on a shared machine that column moves least,
because a `wrk` slowed by other work lowers req/s but not the CPU each request costs.

    python real_server.py                          # fastapi under uvicorn: bare, ours, ours-none, otel, sentry
    python real_server.py --stack flask            # flask under gunicorn (1 sync worker)
    python real_server.py --cases bare,ours --repeats 3 --seconds 8
    python real_server.py --before ../old-checkout     # adds ours-before, ours-none-before: A/B in one run

Cases:
  bare        no tracing
  ours        the package's one line with its DEFAULT recording (SQLite store in a temp dir)
  ours-none   the same with TRACING_MIDDLEWARE_EXPORTER=none: the request path alone
  otel        OpenTelemetry (FastAPI's native telemetry / the WSGI middleware) with a discarding exporter
  sentry      sentry-sdk with traces_sample_rate=1.0 and a no-op transport
Needs: `wrk` and `taskset` (Debian: `apt-get install -y wrk`), and in this interpreter the stack's packages
(fastapi + uvicorn, or flask + gunicorn), the package itself, and for the peers opentelemetry-sdk
(+ opentelemetry-instrumentation-wsgi for flask) and sentry-sdk. A case whose imports fail is skipped.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request

OTEL_SETUP = """
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
class Discard(SpanExporter):
    def export(self, spans): return SpanExportResult.SUCCESS
provider = TracerProvider(); provider.add_span_processor(BatchSpanProcessor(Discard()))
trace.set_tracer_provider(provider)
"""
SENTRY_SETUP = """
import sentry_sdk
from sentry_sdk.transport import Transport
class Null(Transport):
    def capture_envelope(self, envelope): pass
sentry_sdk.init(dsn="http://k@127.0.0.1:9/1", traces_sample_rate=1.0, transport=Null)
"""
FASTAPI_APP = """
from fastapi import FastAPI
app = FastAPI()
{wrap}
@app.get("/items/{{item_id}}")
async def item(item_id: int): return {{"id": item_id}}
"""
FLASK_APP = """
from flask import Flask
app = Flask(__name__)
{wrap}
@app.get("/items/<int:item_id>")
def item(item_id): return {{"id": item_id}}
"""
STACKS = {
    "fastapi": {
        "template": FASTAPI_APP,
        "ours": "from tracing_middleware.adapters.fastapi import TracingMiddleware\n"
        "app.add_middleware(TracingMiddleware)",
        "otel_wrap": "",  # FastAPI >= 0.142 traces itself once a global provider is set
        "server": lambda mod, port: [
            sys.executable,
            "-m",
            "uvicorn",
            f"{mod}:app",
            "--port",
            str(port),
            "--log-level",
            "error",
            "--no-access-log",
        ],
        "connections": 32,
    },
    "flask": {
        "template": FLASK_APP,
        "ours": "from tracing_middleware.adapters.flask import instrument_app\ninstrument_app(app)",
        "otel_wrap": "from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware\n"
        "app.wsgi_app = OpenTelemetryMiddleware(app.wsgi_app)",
        "server": lambda mod, port: [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            "1",
            "-k",
            "sync",
            "-b",
            f"127.0.0.1:{port}",
            f"{mod}:app",
            "--log-level",
            "error",
        ],
        "connections": 4,
    },
}
TRACEPARENT = "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def app_source(stack: str, case: str) -> str:
    spec = STACKS[stack]
    setup, wrap = "", ""
    if case.startswith("ours"):
        wrap = spec["ours"]
    elif case == "otel":
        setup, wrap = OTEL_SETUP, spec["otel_wrap"]
    elif case == "sentry":
        setup = SENTRY_SETUP
    return textwrap.dedent(setup) + spec["template"].format(wrap=wrap)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def to_ms(text: str) -> float:
    for unit, scale in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * scale
    return float(text)


def cpu_ticks(pid: int) -> int:
    """User + system clock ticks of ``pid`` and its children still alive (a gunicorn master and worker)."""
    total = 0
    pids = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            pids += [int(p) for p in f.read().split()]
    except OSError:
        pass
    for each in pids:
        try:
            with open(f"/proc/{each}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            continue
    return total


def measure(
    stack: str, case: str, workdir: str, seconds: int, before: str | None = None
) -> tuple[float, float, float] | None:
    module = f"app_{stack}_{case.replace('-', '_')}"
    port = free_port()
    path = f"{before}{os.pathsep}{workdir}" if case.endswith("-before") and before else workdir
    env = dict(os.environ, PYTHONPATH=path, TRACING_MIDDLEWARE_DB=os.path.join(workdir, "traces.sqlite3"))
    if case.startswith("ours-none"):
        env["TRACING_MIDDLEWARE_EXPORTER"] = "none"
    server = subprocess.Popen(
        ["taskset", "-c", "0", *STACKS[stack]["server"](module, port)],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/items/42"
    try:
        for _ in range(150):
            if server.poll() is not None:
                print(f"# {case}: server exited: {(server.stderr.read() if server.stderr else '')[-300:]}")
                return None
            try:
                urllib.request.urlopen(url, timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        wrk = ["taskset", "-c", "1", "wrk", "-t1", f"-c{STACKS[stack]['connections']}", "-H", TRACEPARENT]
        subprocess.run([*wrk, "-d2s", url], capture_output=True, timeout=60)
        before = cpu_ticks(server.pid)
        out = subprocess.run(
            [*wrk, f"-d{seconds}s", "--latency", url], capture_output=True, text=True, timeout=seconds + 60
        ).stdout
        time.sleep(0.3)  # the last batch's export, which the run's requests caused
        ticks = cpu_ticks(server.pid) - before
        rps = float(next(line.split()[1] for line in out.splitlines() if line.startswith("Requests/sec")))
        p99 = to_ms(next(line.split()[1] for line in out.splitlines() if line.strip().startswith("99%")))
        count = int(next(line.split()[0] for line in out.splitlines() if "requests in" in line))
        return rps, p99, ticks / os.sysconf("SC_CLK_TCK") / max(count, 1) * 1e6
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", choices=sorted(STACKS), default="fastapi")
    parser.add_argument("--cases", default="bare,ours,ours-none,otel,sentry")
    parser.add_argument("--before", metavar="DIR", help="another checkout of the package: adds its ours cases")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=6)
    args = parser.parse_args()
    if not shutil.which("wrk") or not shutil.which("taskset"):
        print("needs wrk and taskset: apt-get install -y wrk")
        return 2
    cases = [c for c in args.cases.split(",") if c]
    if args.before:
        args.before = os.path.abspath(args.before)
        cases += [f"{c}-before" for c in ("ours", "ours-none") if c in cases]
    workdir = tempfile.mkdtemp(prefix="real-server-")
    for case in cases:
        path = os.path.join(workdir, f"app_{args.stack}_{case.replace('-', '_')}.py")
        with open(path, "w") as f:
            f.write(app_source(args.stack, case))
    results: dict[str, list[tuple[float, float, float]]] = {c: [] for c in cases}
    for repeat in range(args.repeats):
        for case in cases:
            got = measure(args.stack, case, workdir, args.seconds, args.before)
            if got:
                results[case].append(got)
        print(f"# repeat {repeat + 1}/{args.repeats} done")
    shutil.rmtree(workdir, ignore_errors=True)
    if not results.get("bare"):
        print("bare case failed; nothing to compare")
        return 1
    base_rps = statistics.median(r for r, _, _ in results["bare"])
    base_p99 = statistics.median(p for _, p, _ in results["bare"])
    base_cpu = statistics.median(c for _, _, c in results["bare"])
    load = os.getloadavg()[0]
    print(
        f"\n{args.stack}, {os.cpu_count()} cpus, server on cpu 0, wrk on cpu 1, median of {args.repeats}, "
        f"{args.seconds} s each, load average {load:.1f}\n"
    )
    print("| case | req/s | share of bare | p99 ms | p99 / bare | server CPU µs/request | added |")
    print("|---|---|---|---|---|---|---|")
    for case, got in results.items():
        if not got:
            print(f"| {case} | skipped | | | | | |")
            continue
        rps = statistics.median(r for r, _, _ in got)
        p99 = statistics.median(p for _, p, _ in got)
        cpu = statistics.median(c for _, _, c in got)
        print(
            f"| {case} | {rps:,.0f} | {rps / base_rps:.0%} | {p99:.2f} | {p99 / base_p99:.1f}x | {cpu:.0f} | "
            f"{cpu - base_cpu:+.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
