"""Core speed against the real ``langsmith`` package, in one process.

Run: ``python bench/core_bench.py`` (a table) or ``python bench/core_bench.py --json`` (machine-readable).

Each case is timed with ``timeit``: the loop count is calibrated so one repeat takes about
``--target-ms``; the table shows the best and the median repeat in µs per operation, and the ratio
"theirs / ours" computed from the best repeats (the least disturbed by other load on the machine).

Parts:

1. ``RunTree.from_headers`` on ``langsmith-trace`` at depth 3 plus ``baggage`` (3 metadata keys, 2 tags,
   a project), the headers written by langsmith itself.
2. ``to_headers()`` on a depth-3 run with the same metadata, tags and project.
3. ``@traceable`` on a no-op function: bare call; ours recording to ``InMemoryExporter``; ours under a
   parent run; ours with ``configure(enabled=False)``; langsmith's sending to a local sink (a small HTTP
   server on 127.0.0.1 in a thread, answering ``GET /info`` and accepting every POST).
4. ``extract`` from an ASGI header list of 12 pairs, ``inject`` into a dict (langsmith: what its ASGI
   middleware does, ``from_headers(dict(pairs))``, and ``dict.update(run.to_headers())``).

Parts 1, 2 and 4 run with ``LANGSMITH_TRACING=false`` and a socket guard that refuses (and counts) any
connection; part 3 lets connections to 127.0.0.1 through and turns langsmith tracing on for itself only.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import platform
import socket
import statistics
import sys
import threading
import time
import timeit
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Before langsmith is imported: no tracing and no key from the environment of whoever runs this.
os.environ["LANGSMITH_TRACING"] = "false"
os.environ["LANGCHAIN_TRACING_V2"] = "false"
for _name in ("LANGSMITH_API_KEY", "LANGCHAIN_API_KEY", "LANGSMITH_ENDPOINT", "LANGCHAIN_ENDPOINT"):
    os.environ.pop(_name, None)

import langsmith  # noqa: E402
from langsmith import run_helpers as ls_helpers  # noqa: E402
from langsmith import utils as ls_utils  # noqa: E402
from langsmith.run_trees import RunTree as LSRunTree  # noqa: E402

import tracing_middleware as tm  # noqa: E402

METADATA = {"user_id": "u-123", "tenant": "acme", "env": "prod"}
TAGS = ["checkout", "beta"]
PROJECT = "bench-project"
# Distinct inputs cycled through, more of them than any small cache would keep: the "distinct" cases
# show the cost per request when every request brings its own trace and metadata.
POOL = 1000


# -- timing -----------------------------------------------------------------------------------------


class Result:
    def __init__(self, part: str, case: str, who: str, times_us: list[float], loops: int) -> None:
        self.part, self.case, self.who, self.loops = part, case, who, loops
        self.best = min(times_us)
        self.median = statistics.median(times_us)
        self.times = times_us

    def as_dict(self) -> dict[str, Any]:
        return {
            "part": self.part,
            "case": self.case,
            "who": self.who,
            "best_us": round(self.best, 3),
            "median_us": round(self.median, 3),
            "loops": self.loops,
            "repeats": len(self.times),
        }


def measure(
    fn: Callable[[], Any], *, repeats: int, target_ms: float, setup: Callable[[], Any] | None = None
) -> tuple[list[float], int]:
    """µs per call for ``repeats`` repeats of a calibrated loop; ``setup`` runs before each repeat, untimed."""
    timer = timeit.Timer(fn, setup=setup or (lambda: None))
    loops = 1
    while True:  # bounded: stops at 1M loops at the latest
        elapsed = timer.timeit(loops)
        if elapsed * 1000 >= target_ms / 4 or loops >= 1_000_000:
            break
        loops *= 4
    loops = max(1, min(1_000_000, int(loops * target_ms / max(elapsed * 1000, 1e-3))))
    return [t / loops * 1e6 for t in timer.repeat(repeat=repeats, number=loops)], loops


# -- network guard ----------------------------------------------------------------------------------


class NetGuard:
    """Counts socket connections; refuses all of them, or all but 127.0.0.1 when ``loopback_ok``."""

    def __init__(self) -> None:
        self.refused: list[Any] = []
        self.loopback_ok = False
        self._connect = socket.socket.connect
        self._connect_ex = socket.socket.connect_ex

    def _check(self, address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if not (self.loopback_ok and host in ("127.0.0.1", "localhost")):
            self.refused.append(address)
            raise ConnectionRefusedError(f"the benchmark allows no connection to {address!r}")

    def install(self) -> None:
        guard, connect, connect_ex = self, self._connect, self._connect_ex

        def guarded_connect(sock: socket.socket, address: Any) -> None:
            guard._check(address)
            connect(sock, address)

        def guarded_connect_ex(sock: socket.socket, address: Any) -> int:
            guard._check(address)
            return connect_ex(sock, address)

        socket.socket.connect = guarded_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = guarded_connect_ex  # type: ignore[method-assign]

    def uninstall(self) -> None:
        socket.socket.connect = self._connect  # type: ignore[method-assign]
        socket.socket.connect_ex = self._connect_ex  # type: ignore[method-assign]


# -- the local LangSmith sink -----------------------------------------------------------------------

INFO = {
    "version": "0.x",
    "batch_ingest_config": {
        "use_multipart_endpoint": True,
        "scale_up_qsize_trigger": 1000,
        "scale_up_nthreads_limit": 16,
        "scale_down_nempty_trigger": 4,
        "size_limit": 100,
        "size_limit_bytes": 20971520,
    },
}


class Sink(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), SinkHandler)
        self.posts = 0
        self.bytes = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class SinkHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Sink

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: bytes = b"{}") -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _read_body(self) -> int:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            total = 0
            for _ in range(1_000_000):  # bounded: a chunked body ends with a zero-size chunk
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                total += len(self.rfile.read(size))
                self.rfile.readline()
            return total
        length = int(self.headers.get("Content-Length") or 0)
        return len(self.rfile.read(length)) if length else 0

    def do_GET(self) -> None:
        self._reply(200, json.dumps(INFO).encode() if self.path.rstrip("/").endswith("/info") else b"{}")

    def do_POST(self) -> None:
        size = self._read_body()
        with self.server.lock:
            self.server.posts += 1
            self.server.bytes += size
        self._reply(202)

    do_PATCH = do_PUT = do_POST


@contextmanager
def sink_server() -> Iterator[Sink]:
    server = Sink()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# -- fixtures -----------------------------------------------------------------------------------------


def langsmith_depth3(metadata: dict[str, str] = METADATA) -> LSRunTree:
    root = LSRunTree(name="root", extra={"metadata": dict(metadata)}, tags=list(TAGS), project_name=PROJECT)
    child = root.create_child("child", extra={"metadata": dict(metadata)}, tags=list(TAGS))
    # langsmith's create_child passes neither tags nor the project on: give the leaf the same as ours.
    leaf = child.create_child("leaf", extra={"metadata": dict(metadata)}, tags=list(TAGS))
    leaf.session_name = PROJECT
    return leaf


def ours_depth3(metadata: dict[str, str] = METADATA) -> tm.RunTree:
    root = tm.RunTree("root", tags=list(TAGS), metadata=metadata, project_name=PROJECT)
    return root.create_child("child").create_child("leaf")


def distinct_metadata(i: int) -> dict[str, str]:
    return {**METADATA, "user_id": f"u-{i:06d}"}


def cycling(items: list[Any], fn: Callable[[Any], Any]) -> Callable[[], Any]:
    """A call of ``fn`` on the next item each time (the same small overhead on both sides)."""
    step = itertools.cycle(items).__next__
    return lambda: fn(step())


def asgi_pairs(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    pairs = [
        (b"host", b"api.example.com"),
        (b"user-agent", b"python-httpx/0.28.1"),
        (b"accept", b"application/json"),
        (b"accept-encoding", b"gzip, deflate, br"),
        (b"connection", b"keep-alive"),
        (b"content-type", b"application/json"),
        (b"content-length", b"42"),
        (b"x-request-id", b"4bf92f3577b34da6a3ce929d0e0e4736"),
        (b"authorization", b"Bearer abc.def.ghi"),
        (b"x-forwarded-for", b"10.0.0.1"),
    ]
    pairs += [
        (k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items() if k in ("langsmith-trace", "baggage")
    ]
    assert len(pairs) == 12, len(pairs)
    return pairs


# -- the parts ----------------------------------------------------------------------------------------


class Bench:
    def __init__(self, repeats: int, target_ms: float) -> None:
        self.repeats, self.target_ms = repeats, target_ms
        self.results: list[Result] = []
        self.notes: list[str] = []

    def run(
        self, part: str, case: str, who: str, fn: Callable[[], Any], setup: Callable[[], Any] | None = None
    ) -> None:
        fn()  # warm caches and fail early
        times, loops = measure(fn, repeats=self.repeats, target_ms=self.target_ms, setup=setup)
        self.results.append(Result(part, case, who, times, loops))

    def headers(self) -> None:
        leaf = langsmith_depth3()
        headers = leaf.to_headers()  # the wire form langsmith itself writes
        ours = tm.RunTree.from_headers(headers)
        theirs = LSRunTree.from_headers(headers)
        # Same meaning on both sides, or the comparison is void.
        assert ours is not None and theirs is not None
        assert ours.dotted_order == theirs.dotted_order == leaf.dotted_order
        assert ours.metadata == theirs.metadata == METADATA, (ours.metadata, theirs.metadata)
        assert sorted(ours.tags) == sorted(theirs.tags) == sorted(TAGS), (ours.tags, theirs.tags)
        assert ours.project_name == theirs.session_name == PROJECT
        self.run("1", "from_headers (depth 3 + baggage)", "ours", lambda: tm.RunTree.from_headers(headers))
        self.run("1", "from_headers (depth 3 + baggage)", "langsmith", lambda: LSRunTree.from_headers(headers))
        pool = [langsmith_depth3(distinct_metadata(i)).to_headers() for i in range(POOL)]
        assert len({h["baggage"] for h in pool}) == POOL
        case = "from_headers, distinct per call"
        self.run("1", case, "ours", cycling(pool, tm.RunTree.from_headers))
        self.run("1", case, "langsmith", cycling(pool, LSRunTree.from_headers))

        run = ours_depth3()
        ours_out = run.to_headers()
        ours_ls_only = run.to_headers(w3c=False)
        assert ours_ls_only["baggage"] == leaf.to_headers()["baggage"], (ours_ls_only, leaf.to_headers())
        assert ours_out["langsmith-trace"].count(".") == 2
        # Each call recomputes everything; the cached dotted order is the only state both sides keep.
        self.run("2", "to_headers (depth 3, w3c=True)", "ours", lambda: run.to_headers())
        self.run("2", "to_headers (depth 3, w3c=False)", "ours", lambda: run.to_headers(w3c=False))
        self.run("2", "to_headers (depth 3, w3c=True)", "langsmith", lambda: leaf.to_headers())
        ours_runs = [ours_depth3(distinct_metadata(i)) for i in range(POOL)]
        their_runs = [langsmith_depth3(distinct_metadata(i)) for i in range(POOL)]
        case = "to_headers, distinct per call"
        self.run("2", case, "ours", cycling(ours_runs, lambda r: r.to_headers()))
        self.run("2", case, "langsmith", cycling(their_runs, lambda r: r.to_headers()))

        pairs = asgi_pairs(headers)
        assert tm.extract(pairs) is not None
        self.run("4", "extract (ASGI list, 12 pairs)", "ours", lambda: tm.extract(pairs))
        self.run("4", "extract (ASGI list, 12 pairs)", "langsmith", lambda: LSRunTree.from_headers(dict(pairs)))
        self.run("4", "extract (ASGI scope)", "ours", lambda: tm.extract({"type": "http", "headers": pairs}))

        def ours_inject() -> None:
            tm.inject({"content-type": "application/json"}, run)

        def theirs_inject() -> None:
            carrier = {"content-type": "application/json"}
            carrier.update(leaf.to_headers())

        self.run("4", "inject into a dict", "ours", ours_inject)
        self.run("4", "inject into a dict", "langsmith", theirs_inject)

    def traceable(self) -> None:
        def noop(x: int) -> int:
            return x

        self.run("3", "@traceable no-op", "bare call", lambda: noop(1))

        exporter = tm.InMemoryExporter()
        tm.configure(exporter=exporter, project_name=PROJECT)
        ours = tm.traceable(noop)
        ours(1)
        assert len(exporter.runs) == 1 and exporter.runs[0].outputs == {"output": 1}
        self.run("3", "@traceable no-op", "ours (root run)", lambda: ours(1), setup=exporter.clear)
        parent = tm.RunTree("parent", tags=list(TAGS), metadata=METADATA, project_name=PROJECT)
        with tm.tracing_context(parent=parent):
            exporter.clear()
            ours(1)
            assert exporter.runs[0].parent_run_id == parent.id
            self.run("3", "@traceable no-op", "ours (child of a parent)", lambda: ours(1), setup=exporter.clear)
        exporter.clear()
        tm.configure(exporter=exporter, enabled=False)
        ours(1)
        assert not exporter.runs
        self.run("3", "@traceable no-op", "ours (configure(enabled=False))", lambda: ours(1))
        tm.configure(exporter="none")

        with sink_server() as sink:
            os.environ["LANGSMITH_TRACING"] = "true"
            getattr(ls_utils.get_env_var, "cache_clear", lambda: None)()
            try:
                self._langsmith_traceable(noop, sink)
            finally:
                os.environ["LANGSMITH_TRACING"] = "false"
                getattr(ls_utils.get_env_var, "cache_clear", lambda: None)()

    def _langsmith_traceable(self, noop: Callable[[int], int], sink: Sink) -> None:
        # The sink's /info (as specified) has no instance_flags, so langsmith warns once that it will not
        # compress; the POST count printed below shows the runs did arrive.
        logging.getLogger("langsmith.client").setLevel(logging.ERROR)
        client = langsmith.Client(api_url=sink.url, api_key="x")
        theirs = ls_helpers.traceable(noop)
        try:
            with ls_helpers.tracing_context(client=client, enabled=True, project_name=PROJECT):
                theirs(1)
                client.flush()
                assert sink.posts >= 1, "langsmith sent nothing to the local sink"
                self.run("3", "@traceable no-op", "langsmith (to local sink)", lambda: theirs(1), setup=client.flush)
                client.flush()
                self.notes.append(f"langsmith sink received {sink.posts} POSTs, {sink.bytes} bytes")
        finally:
            client.flush()
            client.cleanup() if hasattr(client, "cleanup") else None


# -- output -------------------------------------------------------------------------------------------


def table(results: list[Result]) -> tuple[str, list[dict[str, Any]]]:
    ratios: list[dict[str, Any]] = []
    lines = [f"{'part':<4} {'case':<36} {'who':<32} {'best µs':>9} {'median µs':>10} {'loops':>8}"]
    by_case: dict[tuple[str, str], dict[str, Result]] = {}
    for r in results:
        by_case.setdefault((r.part, r.case), {})[r.who] = r
        lines.append(f"{r.part:<4} {r.case:<36} {r.who:<32} {r.best:>9.3f} {r.median:>10.3f} {r.loops:>8}")
    lines.append("")
    lines.append("ratios (best repeats; > 1 means ours is faster):")
    goals = {"1": 20.0, "2": 4.0}  # the goals set for this package
    for (part, case), who in by_case.items():
        ours, theirs = who.get("ours"), who.get("langsmith")
        if ours is None or theirs is None:
            continue
        ratio = theirs.best / ours.best
        goal = goals.get(part)
        verdict = "" if goal is None else (f"  goal ≥{goal:g}x: " + ("met" if ratio >= goal else "MISSED"))
        lines.append(f"  {case:<36} langsmith/ours = {ratio:6.1f}x{verdict}")
        ratios.append({"part": part, "case": case, "ratio": round(ratio, 2), "goal": goal})
    traced = {r.who: r for r in results if r.part == "3"}
    if "langsmith (to local sink)" in traced:
        theirs = traced["langsmith (to local sink)"]
        bare = traced["bare call"].best
        for who, r in traced.items():
            if who.startswith("ours"):
                over, ratio = r.best - bare, theirs.best / r.best
                goal = "" if "enabled=False" in who else ("  goal <15 µs: " + ("met" if r.best < 15 else "MISSED"))
                lines.append(f"  @traceable {who:<32} overhead {over:7.2f} µs, langsmith/ours = {ratio:6.1f}x{goal}")
                ratios.append({"part": "3", "case": who, "ratio": round(ratio, 2), "overhead_us": round(over, 3)})
    return "\n".join(lines), ratios


def machine() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg": load,
        "langsmith": langsmith.__version__,
        "tracing_middleware": tm.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats per case (default 7)")
    parser.add_argument("--target-ms", type=float, default=150.0, help="length of one repeat (default 150 ms)")
    parser.add_argument("--parts", default="1234", help="which parts to run, e.g. 12 (default 1234)")
    args = parser.parse_args(argv)
    if not 1 <= args.repeats <= 50 or not 1 <= args.target_ms <= 2000:
        parser.error("--repeats must be 1..50 and --target-ms 1..2000")

    bench = Bench(args.repeats, args.target_ms)
    guard = NetGuard()
    guard.install()
    started = time.perf_counter()
    try:
        if set(args.parts) & set("124"):
            bench.headers()
        refused_offline = len(guard.refused)
        if "3" in args.parts:
            guard.loopback_ok = True
            bench.traceable()
    finally:
        guard.uninstall()
    bench.results = [r for r in bench.results if r.part in args.parts]
    bench.notes.append(f"connections refused in parts 1/2/4: {refused_offline}; in total: {len(guard.refused)}")
    text, ratios = table(bench.results)
    info = machine()
    info["seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        out = {"machine": info, "results": [r.as_dict() for r in bench.results], "ratios": ratios, "notes": bench.notes}
        print(json.dumps(out, indent=2))
    else:
        print(text)
        print()
        for note in bench.notes:
            print(f"note: {note}")
        print("machine: " + ", ".join(f"{k}={v}" for k, v in info.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
