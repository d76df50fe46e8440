"""SQLite faults: a corrupt, foreign, newer, read-only, locked or failing file raises a clear StoreError,
changes nothing, and the same exporter works again once the fault is gone."""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest

from tracing_middleware import RunTree
from tracing_middleware.exporters.sqlite import SQLiteExporter, StoreError, TraceStore

TraceFactory = Callable[..., list[RunTree]]  # the make_trace fixture
pytestmark = pytest.mark.usefixtures("configured")

NOBODY = 65534


def count(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
    finally:
        conn.close()


def test_corrupt_file_raises_clearly_and_is_left_alone(tmp_path: Path, make_trace: TraceFactory) -> None:
    path = tmp_path / "t.sqlite3"
    garbage = b"this is not a database, it is a text file\n" * 200
    path.write_bytes(garbage)
    exporter = SQLiteExporter(path)
    with pytest.raises(StoreError, match=r"t\.sqlite3.*not a database"):
        exporter.export(make_trace())
    assert path.read_bytes() == garbage
    with pytest.raises(StoreError, match="not a readable trace store"):
        TraceStore(path)
    path.unlink()  # the fault clears: the same exporter starts a fresh store
    exporter.export(make_trace())
    assert count(path) == 4
    exporter.shutdown()


def test_missing_store_is_a_clear_read_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no trace store at"):
        TraceStore(tmp_path / "absent.sqlite3")
    assert not (tmp_path / "absent.sqlite3").exists()


def test_foreign_sqlite_file_is_not_touched(tmp_path: Path, make_trace: TraceFactory) -> None:
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE runs (x INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match=r"app\.db"):
        SQLiteExporter(path).export(make_trace())
    with pytest.raises(StoreError, match="not a trace store"):
        TraceStore(path)
    conn = sqlite3.connect(path)
    tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    conn.close()
    assert tables == {"runs"}  # the failed migration rolled back: no schema_version left behind


def test_newer_schema_is_refused(tmp_path: Path, make_trace: TraceFactory) -> None:
    path = tmp_path / "t.sqlite3"
    SQLiteExporter(path).export(make_trace())
    conn = sqlite3.connect(path)
    conn.execute("UPDATE schema_version SET version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="schema version 99"):
        SQLiteExporter(path).export(make_trace())
    with pytest.raises(StoreError, match="schema version 99"):
        TraceStore(path)


def test_locked_file_raises_then_recovers(tmp_path: Path, make_trace: TraceFactory) -> None:
    path = tmp_path / "t.sqlite3"
    exporter = SQLiteExporter(path, timeout_s=0.05)
    exporter.export(make_trace())
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process mid-write, longer than the busy timeout
    try:
        with pytest.raises(StoreError, match="locked"):
            exporter.export(make_trace())
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    exporter.export(make_trace())
    assert count(path) == 8
    exporter.shutdown()


def test_a_failing_batch_writes_nothing(tmp_path: Path, make_trace: TraceFactory) -> None:
    path = tmp_path / "t.sqlite3"
    exporter = SQLiteExporter(path)
    exporter.export(make_trace("first"))
    conn = sqlite3.connect(path)  # a write failing in the middle of a batch, as a full disk would
    conn.execute(
        "CREATE TRIGGER poison BEFORE INSERT ON runs WHEN NEW.name = 'poison'"
        " BEGIN SELECT RAISE(ABORT, 'no space'); END"
    )
    conn.commit()
    batch = make_trace("ok-before", 1) + make_trace("poison", 0) + make_trace("ok-after", 1)
    with pytest.raises(StoreError, match="no space"):
        exporter.export(batch)
    assert count(path) == 4
    conn.execute("DROP TRIGGER poison")
    conn.commit()
    conn.close()
    exporter.export(batch)
    assert count(path) == 4 + len(batch)
    exporter.shutdown()


def run_unprivileged(scenario: Callable[[], None], folder: Path) -> None:
    """Run ``scenario`` where file permissions apply: as is for a normal user, in a forked child as nobody for root."""
    if os.geteuid() != 0:
        scenario()
        return
    os.chown(folder, NOBODY, NOBODY)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child process
        code = 1
        try:
            os.close(read_end)
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            scenario()
            code = 0
        except BaseException:
            os.write(write_end, traceback.format_exc().encode())
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        report = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, report


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_read_only_file_raises_then_recovers(make_trace: TraceFactory) -> None:
    folder = Path(tempfile.mkdtemp(prefix="tm-readonly-"))  # outside pytest's root-only tmp folders
    try:
        path = folder / "t.sqlite3"

        def scenario() -> None:
            first = SQLiteExporter(path)
            first.export(make_trace("before"))
            first.shutdown()
            path.chmod(0o444)
            exporter = SQLiteExporter(path)
            try:
                exporter.export(make_trace("while-read-only"))
            except StoreError as error:
                assert f"{path} is read-only" in str(error), error
            else:
                raise AssertionError("a read-only store accepted a write")
            assert sorted(os.listdir(folder)) == ["t.sqlite3"]  # no -wal/-shm debris that would stay read-only
            path.chmod(0o644)
            exporter.export(make_trace("after"))
            assert count(path) == 8
            exporter.shutdown()
            with TraceStore(path) as store:
                assert sorted(t.root_name for t in store.list_traces()) == ["after", "before"]

        run_unprivileged(scenario, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_unwritable_folder_raises(make_trace: TraceFactory) -> None:
    folder = Path(tempfile.mkdtemp(prefix="tm-nofolder-"))
    try:

        def scenario() -> None:
            folder.chmod(0o555)
            exporter = SQLiteExporter(folder / "sub" / "t.sqlite3")
            try:
                exporter.export(make_trace())
            except StoreError as error:
                assert "cannot create the trace store's folder" in str(error), error
            else:
                raise AssertionError("a store was created in a read-only folder")
            folder.chmod(0o755)
            exporter.export(make_trace())
            assert count(folder / "sub" / "t.sqlite3") == 4
            exporter.shutdown()

        run_unprivileged(scenario, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
