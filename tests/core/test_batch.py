"""BatchProcessor: non-blocking hand-over, bounded queue, retries, flush, fork and exit behaviour."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

import tracing_middleware as tm
from tracing_middleware.core.batch import BatchProcessor
from tracing_middleware.core.run_tree import RunTree


class ListExporter:
    def __init__(self, fail_times: int = 0, block: threading.Event | None = None) -> None:
        self.runs: list[RunTree] = []
        self.batches: list[int] = []
        self.fail_times = fail_times
        self.calls = 0
        self.block = block
        self.shut = False
        self.threads: set[str] = set()

    def export(self, runs: Sequence[RunTree]) -> None:
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        if self.block is not None:
            self.block.wait(10)
        if self.fail_times > 0:
            self.fail_times -= 1
            raise OSError("disk full")
        self.batches.append(len(runs))
        self.runs.extend(runs)

    def shutdown(self) -> None:
        self.shut = True


def finished(n: int) -> list[RunTree]:
    runs = []
    for i in range(n):
        run = RunTree(f"r{i}")
        run.end()
        runs.append(run)
    return runs


def test_runs_are_exported_on_a_background_thread_in_batches() -> None:
    exporter = ListExporter()
    processor = BatchProcessor(exporter, batch_size=100, interval_s=0.05)
    for run in finished(250):
        processor.on_end(run)
    assert processor.flush(10)
    assert len(exporter.runs) == 250
    assert max(exporter.batches) <= 100
    assert exporter.threads == {"tracing-middleware-export"}
    processor.shutdown()
    assert exporter.shut


def test_a_full_queue_drops_and_counts_without_blocking() -> None:
    gate = threading.Event()
    exporter = ListExporter(block=gate)
    processor = BatchProcessor(exporter, max_queue=10, batch_size=5, interval_s=0.01)
    runs = finished(200)
    for run in runs:
        processor.on_end(run)  # the worker is stuck in export(): these must not wait for it
    assert processor.dropped.count >= 200 - 10 - 5
    gate.set()
    assert processor.flush(10)
    assert len(exporter.runs) + processor.dropped.count == 200
    processor.shutdown()


def test_failures_are_retried_a_bounded_number_of_times_then_counted() -> None:
    exporter = ListExporter(fail_times=2)
    processor = BatchProcessor(exporter, batch_size=10, interval_s=0.01, max_attempts=3, backoff_s=0.001)
    for run in finished(5):
        processor.on_end(run)
    assert processor.flush(10)
    assert len(exporter.runs) == 5 and processor.failures.count == 0  # third attempt succeeded

    exporter.fail_times = 10
    before = exporter.calls  # the first runs may have gone out in one batch or two
    for run in finished(4):
        processor.on_end(run)
    assert processor.flush(10)
    assert processor.failures.count == 4  # lost after three attempts, counted, never raised
    batches_tried = exporter.calls - before  # each failing batch is tried exactly three times
    assert batches_tried >= 3 and batches_tried % 3 == 0

    exporter.fail_times = 0  # the fault clears: recording resumes
    for run in finished(3):
        processor.on_end(run)
    assert processor.flush(10)
    assert len(exporter.runs) == 8
    processor.shutdown()


def test_exporter_runs_with_tracing_suppressed() -> None:
    seen: list[bool] = []

    class Probe(ListExporter):
        def export(self, runs: Sequence[RunTree]) -> None:
            seen.append(tm.get_tracing_context().enabled)

    processor = BatchProcessor(Probe(), interval_s=0.01)
    processor.on_end(finished(1)[0])
    assert processor.flush(10)
    assert seen == [False]
    processor.shutdown()


def test_bad_environment_sizes_warn_and_use_the_defaults(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TRACING_MIDDLEWARE_QUEUE_SIZE", "lots")
    monkeypatch.setenv("TRACING_MIDDLEWARE_BATCH_SIZE", "-1")
    processor = BatchProcessor(ListExporter())
    assert (processor.max_queue, processor.batch_size) == (50_000, 1_000)
    assert "TRACING_MIDDLEWARE_QUEUE_SIZE='lots' is not a whole number >= 1; using 50000" in caplog.text
    assert "TRACING_MIDDLEWARE_BATCH_SIZE='-1' is not a whole number >= 1; using 1000" in caplog.text


FILE_EXPORTER = textwrap.dedent(
    """
    import json, os, sys
    import tracing_middleware as tm
    from tracing_middleware.core.batch import BatchProcessor

    class FileExporter:
        def __init__(self, path):
            self.path = path
        def export(self, runs):
            with open(self.path, "a") as f:
                for run in runs:
                    f.write(json.dumps({"name": run.name, "pid": os.getpid()}) + "\\n")
        def shutdown(self):
            pass
        def make_processor(self):
            return BatchProcessor(self, interval_s=5.0)  # long interval: only the exit flush writes

    tm.configure(exporter=FileExporter(sys.argv[1]))

    @tm.traceable
    def work(i):
        return i
    """
)


def run_script(body: str, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", FILE_EXPORTER + textwrap.dedent(body), str(out)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_runs_are_flushed_at_interpreter_exit(tmp_path: Path) -> None:
    out = tmp_path / "runs.jsonl"
    result = run_script("for i in range(500): work(i)\n", out)
    assert result.returncode == 0, result.stderr
    assert len(lines(out)) == 500


def test_runs_are_flushed_when_sigterm_ends_the_process(tmp_path: Path) -> None:
    out = tmp_path / "runs.jsonl"
    result = run_script("for i in range(300): work(i)\nimport signal; os.kill(os.getpid(), signal.SIGTERM)\n", out)
    assert result.returncode == -15  # still killed by SIGTERM, as without us
    assert len(lines(out)) == 300


def test_runs_are_flushed_when_ctrl_c_ends_the_process(tmp_path: Path) -> None:
    out = tmp_path / "runs.jsonl"
    result = run_script("for i in range(200): work(i)\nraise KeyboardInterrupt\n", out)
    assert result.returncode != 0 and "KeyboardInterrupt" in result.stderr
    assert len(lines(out)) == 200


def test_a_forked_child_keeps_recording_without_user_hooks(tmp_path: Path) -> None:
    out = tmp_path / "runs.jsonl"
    body = """
    work(0)  # the parent's worker thread exists before the fork
    pid = os.fork()
    if pid == 0:
        for i in range(50): work(i)
        tm.flush(10)
        os._exit(0)
    os.waitpid(pid, 0)
    """
    result = run_script(body, out)
    assert result.returncode == 0, result.stderr
    per_pid: dict[object, int] = {}
    for row in lines(out):
        per_pid[row["pid"]] = per_pid.get(row["pid"], 0) + 1
    # The child exported its own 50 runs and did not re-export the run the parent had queued.
    assert sorted(per_pid.values()) == [1, 50]


def test_an_encoder_turns_each_run_into_a_record_when_it_ends_and_the_writer_gets_them() -> None:
    written: list[list[object]] = []
    exporter = ListExporter()
    seen: list[str] = []

    def encode(run: RunTree) -> object | None:
        seen.append(threading.current_thread().name)
        if run.name == "r1":
            return None  # skipped by the exporter's choice
        if run.name == "r2":
            raise RuntimeError("the encoder's fault")
        return (run.name, run.id)

    processor = BatchProcessor(exporter, batch_size=10, interval_s=0.01, encode=encode, write=written.append)
    runs = finished(5)
    for run in runs:
        processor.on_end(run)  # the encoder's exception never reaches the caller
    assert seen == [threading.current_thread().name] * 5  # encoded on the request path, at the end
    assert processor.flush(10)
    kept = [(r.name, r.id) for r in runs if r.name not in ("r1", "r2")]
    assert [record for batch in written for record in batch] == kept
    assert exporter.runs == []  # the writer, not export(), got the batch
    assert processor.failures.count == 1 and processor.pending() == 0


def test_encode_and_write_go_together() -> None:
    with pytest.raises(ValueError, match="encode and write"):
        BatchProcessor(ListExporter(), encode=lambda run: run)


def test_a_run_whose_encoding_is_interrupted_is_still_exported() -> None:
    # gunicorn's SIGINT handler raises SystemExit in the request thread, wherever it is at that moment.
    written: list[object] = []
    interrupt = [True]

    def encode(run: RunTree) -> object:
        if interrupt[0]:
            interrupt[0] = False
            raise SystemExit(0)
        return run.name

    processor = BatchProcessor(ListExporter(), interval_s=0.01, encode=encode, write=written.extend)
    first, second = finished(2)
    with pytest.raises(SystemExit):
        processor.on_end(first)  # the stop goes on...
    processor.on_end(second)
    assert processor.flush(10)
    assert sorted(written) == ["r0", "r1"]  # ...and the interrupted run is encoded later, by the worker
    assert processor.pending() == 0


def test_the_worker_wakes_when_wake_size_runs_wait_not_only_at_the_interval() -> None:
    exporter = ListExporter()
    processor = BatchProcessor(exporter, interval_s=60.0, wake_size=10)  # the interval alone would take a minute
    for run in finished(10):
        processor.on_end(run)
    deadline = time.monotonic() + 10
    while len(exporter.runs) < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(exporter.runs) == 10
    with pytest.raises(ValueError, match="wake_size"):
        BatchProcessor(exporter, wake_size=0)
