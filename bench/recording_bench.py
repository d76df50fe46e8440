"""Recording pipeline benchmarks: sustained SQLite export, enqueue cost, memory when producers outrun the writer.

    python bench/recording_bench.py            # about a minute
    python bench/recording_bench.py --runs 50000

1. ``SQLiteExporter.export`` throughput (runs/s, wall clock and per CPU-second) at several batch sizes, and through
   the real ``BatchProcessor`` (hand over every run, then flush).
2. ``BatchProcessor.on_end``: the cost a finished run adds to the request path (the worker is paused, so only the
   hand-over is timed): a plain hand-over, and the SQLite store's, which encodes the run into its row there.
3. Peak RSS after producing 1,000,000 runs into a processor whose exporter is slower than the producer: the bounded
   queue drops (and counts) the excess, so memory stays flat. Runs in a subprocess so its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time

import tracing_middleware as tm
from tracing_middleware.core.batch import BatchProcessor
from tracing_middleware.exporters.sqlite import SQLiteExporter


def make_runs(n: int) -> list[tm.RunTree]:
    """Traces of one request run and nine tool children with small inputs, outputs, tags and metadata."""
    runs: list[tm.RunTree] = []
    while len(runs) < n:
        root = tm.RunTree(
            "GET /items/{item_id}",
            inputs={"method": "GET", "path": "/items/42", "query": "q=abc"},
            tags=["http"],
            metadata={"http.status": 200},
        )
        for i in range(9):
            child = root.create_child(f"step{i}", "tool", inputs={"i": i, "text": "hello world"})
            child.end(outputs={"result": [1, 2, 3], "ok": True})
            runs.append(child)
        root.end(outputs={"status_code": 200})
        runs.append(root)
    return runs[:n]


def throughput(runs: list[tm.RunTree]) -> None:
    n = len(runs)
    for batch in (100, 1_000, 5_000):
        exporter = SQLiteExporter(os.path.join(tempfile.mkdtemp(), "bench.sqlite3"), service_name="bench")
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for i in range(0, n, batch):
            exporter.export(runs[i : i + batch])
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        exporter.shutdown()
        print(f"  export() batch={batch:>5}: {n / wall:>9,.0f} runs/s wall  {n / cpu:>9,.0f} runs/CPU-s")
    exporter = SQLiteExporter(os.path.join(tempfile.mkdtemp(), "bench.sqlite3"), service_name="bench")
    processor = BatchProcessor(exporter, max_queue=n + 1, batch_size=1_000)
    wall0 = time.perf_counter()
    for run in runs:
        processor.on_end(run)
    processor.flush(120)
    wall = time.perf_counter() - wall0
    print(f"  BatchProcessor batch= 1000: {n / wall:>9,.0f} runs/s wall  (exported {processor.exported:,})")
    processor.shutdown()


class Paused:
    """An exporter that waits until released: isolates the hand-over cost."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def export(self, runs: object) -> None:
        self.release.wait(60)

    def shutdown(self) -> None:
        self.release.set()


def enqueue_cost(runs: list[tm.RunTree], folder: str) -> None:
    store = SQLiteExporter(os.path.join(folder, "encode.sqlite3"))
    for label, encode in (("a plain hand-over", None), ("the SQLite store's (encoded to its row)", store.encode_run)):
        best = float("inf")
        for _ in range(5):
            exporter = Paused()
            write = None if encode is None else exporter.export
            processor = BatchProcessor(
                exporter, max_queue=len(runs) + 1, batch_size=len(runs) + 1, interval_s=60, wake_size=len(runs) + 1,
                encode=encode, write=write,
            )  # fmt: skip
            start = time.perf_counter()
            for run in runs:
                processor.on_end(run)
            best = min(best, (time.perf_counter() - start) / len(runs) * 1e6)
            exporter.release.set()
            processor.shutdown(1)
        print(f"  on_end, {label}: {best:.3f} µs per run (best of 5, {len(runs):,} runs each)")


def _peak_rss_mb() -> float:
    """This process's peak RSS. ru_maxrss would do, but Linux carries it across exec from the parent."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_child() -> None:
    """Produce 1,000,000 runs against an exporter that takes 50 ms per batch; print peak RSS and drops."""

    class Slow:
        def export(self, runs: object) -> None:
            time.sleep(0.05)

        def shutdown(self) -> None:
            pass

    processor = BatchProcessor(Slow(), batch_size=1_000)
    parent = tm.RunTree("root")
    for i in range(1_000_000):
        run = parent.create_child("step", inputs={"i": i})
        run.end(outputs={"ok": True})
        processor.on_end(run)
    peak_mb = _peak_rss_mb()
    print(f"  1,000,000 runs produced: peak RSS {peak_mb:,.0f} MB, queue bound {processor.max_queue:,}, "
          f"dropped {processor.dropped.count:,}, exported {processor.exported:,} by then")  # fmt: skip
    os._exit(0)  # the rest of the queue is not the point here


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200_000)
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    tm.configure(exporter="none", service_name="bench")
    if args.memory_child:
        memory_child()
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, python {sys.version.split()[0]}")
    runs = make_runs(args.runs)
    print("1. sustained SQLite export")
    throughput(runs)
    print("2. request-path hand-over")
    with tempfile.TemporaryDirectory() as folder:
        enqueue_cost(runs[:100_000], folder)
    print("3. memory when producers outrun the writer")
    subprocess.run([sys.executable, __file__, "--memory-child"], check=True)


if __name__ == "__main__":
    main()
