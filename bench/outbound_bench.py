#!/usr/bin/env python3
"""Overhead per outbound call inside a run: httpx (MockTransport) and requests (a mock adapter).

No network: httpx uses ``MockTransport``, requests a ``BaseAdapter`` subclass returning a canned
``Response``. Calls run inside a parent run/span/transaction, one parent per 50 calls (as in
path/to/peer_overhead.py). Each family runs in its own subprocess (global patches of one
peer cannot leak into another), round-robin, ``--repeats`` times; the median µs/call is reported.

Families:
  bare        no instrumentation
  bare+hdrs   no instrumentation, but the request carries three tracing-sized headers set by hand:
              what httpx itself charges for three more headers (its cookie extraction copies all
              request headers), the floor under anything that injects ours
  ours        tracing_middleware.instrument() (client run + langsmith-trace, baggage, traceparent),
              discarding exporter
  ours-hdrs   instrument(client_runs=False): headers only
  otel        opentelemetry-instrumentation-httpx (instrument_client: the global patch misses
              MockTransport) / -requests (RequestsInstrumentor, patches Session.send), SDK provider,
              BatchSpanProcessor, discarding exporter
  sentry      sentry_sdk.init(traces_sample_rate=1.0, no-op transport): HttpxIntegration patches
              Client.send; for requests Sentry only patches http.client, which a mock adapter never
              reaches, so its requests row measures nothing and is marked n/a

Usage: python bench/outbound_bench.py [-n 5000] [--repeats 5] [--families bare,ours,otel]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import statistics
import subprocess
import sys
import time
from typing import Any

URL = "http://downstream.internal:8080/api/items?id=1"
CALLS_PER_PARENT = 50
FAMILIES = ("bare", "bare+hdrs", "ours", "ours-hdrs", "otel", "sentry")
HAND_HEADERS = {
    "langsmith-trace": "20260101T000000000000Z01a2139d-63cd-74f3-85c6-3788bf67349c."
    "20260101T000000000001Z01a2139d-63cd-74f3-85c6-3789fd8c1680",
    "baggage": "langsmith-project=default",
    "traceparent": "00-01a2139d63cd74f385c63788bf67349c-85c63789fd8c1680-01",
}


def httpx_client() -> Any:
    import httpx

    return httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200, text="ok")))


def requests_session() -> Any:
    import requests
    from requests.adapters import BaseAdapter

    class CannedAdapter(BaseAdapter):
        def send(self, request: Any, stream: bool = False, timeout: Any = None, verify: Any = True,
                 cert: Any = None, proxies: Any = None) -> Any:  # fmt: skip
            response = requests.Response()
            response.status_code = 200
            response._content = b"ok"
            response.request = request
            response.url = request.url
            return response

        def close(self) -> None:
            pass

    session = requests.Session()
    session.mount("http://", CannedAdapter())
    return session


def timed(call: Any, parent: Any, n: int) -> float:
    def run(count: int) -> None:
        done = 0
        while done < count:
            batch = min(CALLS_PER_PARENT, count - done)
            with parent():
                for _ in range(batch):
                    call()
            done += batch

    run(max(200, n // 10))
    gc.collect()
    start = time.perf_counter()
    run(n)
    return (time.perf_counter() - start) / n * 1e6


def family_setup(family: str) -> tuple[Any, Any, Any]:
    """(parent context manager factory, httpx client, requests session) for one family."""
    client, session = httpx_client(), requests_session()
    if family in ("bare", "bare+hdrs"):
        return contextlib.nullcontext, client, session
    if family in ("ours", "ours-hdrs"):
        import tracing_middleware as tm
        from bench.hooks import setup
        from tracing_middleware.transports.instrument import instrument

        setup()
        instrument(client_runs=family == "ours")
        return (lambda: tm.trace("parent")), client, session
    if family == "otel":
        from opentelemetry import trace
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
        from opentelemetry.instrumentation.requests import RequestsInstrumentor
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

        class Discard(SpanExporter):
            def export(self, spans: Any) -> SpanExportResult:
                return SpanExportResult.SUCCESS

        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(Discard()))
        trace.set_tracer_provider(provider)
        HTTPXClientInstrumentor.instrument_client(client, tracer_provider=provider)
        RequestsInstrumentor().instrument(tracer_provider=provider)
        tracer = trace.get_tracer("bench")
        return (lambda: tracer.start_as_current_span("parent")), client, session
    if family == "sentry":
        import sentry_sdk
        from sentry_sdk.transport import Transport

        class NoopTransport(Transport):
            def capture_envelope(self, envelope: Any) -> None:
                pass

            def flush(self, timeout: float, callback: Any = None) -> None:
                pass

            def kill(self) -> None:
                pass

        sentry_sdk.init(dsn="http://k@127.0.0.1:9/1", traces_sample_rate=1.0, transport=NoopTransport)
        client, session = httpx_client(), requests_session()  # after init, so the integration sees them
        return (lambda: sentry_sdk.start_transaction(name="parent", op="task")), client, session
    raise SystemExit(f"unknown family {family!r}; choose from {', '.join(FAMILIES)}")


def worker(family: str, n: int) -> dict[str, float]:
    import warnings

    warnings.simplefilter("ignore")
    parent, client, session = family_setup(family)
    headers = HAND_HEADERS if family == "bare+hdrs" else None
    results = {
        "httpx": timed(lambda: client.get(URL, headers=headers), parent, n),
        "requests": timed(lambda: session.get(URL, headers=headers), parent, n),
    }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=5000, help="calls per case per process (default 5000)")
    parser.add_argument("--repeats", type=int, default=5, help="processes per family; the median is reported")
    parser.add_argument("--families", default=",".join(FAMILIES), help="comma list of " + ", ".join(FAMILIES))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.n)))
        return
    families = [f for f in args.families.split(",") if f]
    samples: dict[tuple[str, str], list[float]] = {}
    for repeat in range(args.repeats):
        order = families[repeat % len(families) :] + families[: repeat % len(families)]
        for family in order:
            cmd = [sys.executable, __file__, "--worker", family, "-n", str(args.n)]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                print(proc.stderr, file=sys.stderr)
                raise SystemExit(f"worker {family} failed")
            for lib, value in json.loads(proc.stdout.strip().splitlines()[-1]).items():
                samples.setdefault((lib, family), []).append(value)
        print(f"# repeat {repeat + 1}/{args.repeats} done", file=sys.stderr)
    print(f"# N={args.n} calls per case per process, median of {args.repeats} processes, µs per call")
    print(f"| {'library':8} | {'family':10} | {'µs/call':>8} | {'+µs':>7} | {'x bare':>6} | {'overhead / otel':>15} |")
    print(f"|{'-' * 10}|{'-' * 12}|{'-' * 10}|{'-' * 9}|{'-' * 8}|{'-' * 17}|")
    for lib in ("httpx", "requests"):
        med = {f: statistics.median(samples[(lib, f)]) for f in families if (lib, f) in samples}
        bare = med.get("bare")
        otel_added = med["otel"] - bare if bare is not None and "otel" in med else None
        for family, value in med.items():
            added = value - bare if bare is not None else None
            ratio = f"{added / otel_added:.3f}" if added is not None and otel_added else "-"
            if lib == "requests" and family == "sentry":
                ratio = "n/a"
            print(
                f"| {lib:8} | {family:10} | {value:8.1f} | {added if added is not None else 0:+7.1f} | "
                f"{value / bare if bare else 0:6.2f} | {ratio:>15} |"
            )


if __name__ == "__main__":
    main()
