"""The store is private to its owner: folders 0700, the file and its -wal/-shm/-journal files 0600."""

from __future__ import annotations

import logging
import os
import pathlib
import stat
import subprocess
import sys

import pytest

from tracing_middleware import RunTree
from tracing_middleware.exporters.sqlite import SQLiteExporter, TraceStore
from tracing_middleware.exporters.sqlite_schema import connect_writer

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


def mode(path: pathlib.Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def one_run(name: str = "r") -> RunTree:
    run = RunTree(name, inputs={"secret": "s3cret"})
    run.end(outputs={"ok": True})
    return run


def test_a_fresh_path_gets_private_folders_and_files(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "a" / "b" / "traces.sqlite3"
    exporter = SQLiteExporter(db)
    exporter.export([one_run()])
    try:
        with TraceStore(db) as store:  # a reader beside the writer: the -shm file exists now
            assert store.count_runs() == 1
        assert mode(tmp_path / "a") == 0o700
        assert mode(tmp_path / "a" / "b") == 0o700
        files = sorted(p.name for p in db.parent.iterdir())
        assert files == ["traces.sqlite3", "traces.sqlite3-shm", "traces.sqlite3-wal"]
        for name in files:
            assert mode(db.parent / name) == 0o600, name
    finally:
        exporter.shutdown()


def test_a_rollback_journal_is_private_too(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "j" / "traces.sqlite3"
    conn = connect_writer(db, 5)
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute("PRAGMA locking_mode=EXCLUSIVE")  # keep the journal file after the transaction
    conn.execute("PRAGMA journal_mode=PERSIST")
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO runs (id, trace_id, dotted_order, depth, name, run_type, start_us) "
                 "VALUES ('x', 't', 'o', 1, 'n', 'chain', 1)")  # fmt: skip
    conn.execute("COMMIT")
    try:
        journal = db.with_name(db.name + "-journal")
        assert journal.exists()
        assert mode(journal) == 0o600
        assert mode(db) == 0o600
    finally:
        conn.close()


def test_the_default_path_is_private(tmp_path: pathlib.Path) -> None:
    # A new process with only XDG_DATA_HOME set: the default store under it, as a user first gets it.
    env = {k: v for k, v in os.environ.items() if k != "TRACING_MIDDLEWARE_DB"}
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    code = (
        "import tracing_middleware as tm\n"
        "tm.configure(exporter='sqlite', service_name='perm')\n"
        "with tm.trace('one'): pass\n"
        "tm.flush(10)\n"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    folder = tmp_path / "data" / "tracing-middleware"
    assert mode(tmp_path / "data") == 0o700
    assert mode(folder) == 0o700
    files = list(folder.iterdir())
    assert any(f.name == "traces.sqlite3" for f in files)
    for file in files:
        assert mode(file) == 0o600, file


def test_an_existing_wide_store_is_left_alone_with_one_warning(
    tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "traces.sqlite3"
    first = SQLiteExporter(db)
    first.export([one_run()])
    first.shutdown()
    os.chmod(db, 0o644)
    caplog.set_level(logging.WARNING, logger="tracing_middleware.export")
    for _ in range(3):  # reopened three times: still one line
        exporter = SQLiteExporter(db)
        exporter.export([one_run()])
        exporter.shutdown()
    warnings = [r.getMessage() for r in caplog.records if "other users" in r.getMessage()]
    assert len(warnings) == 1
    assert f"chmod 600 {db}" in warnings[0]
    assert mode(db) == 0o644  # the user's file, the user's choice


def test_a_private_store_gets_no_warning(tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="tracing_middleware.export")
    exporter = SQLiteExporter(tmp_path / "quiet" / "traces.sqlite3")
    exporter.export([one_run()])
    exporter.shutdown()
    assert not [r for r in caplog.records if "other users" in r.getMessage()]


def test_an_existing_folder_keeps_its_mode(tmp_path: pathlib.Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    exporter = SQLiteExporter(folder / "traces.sqlite3")
    exporter.export([one_run()])
    exporter.shutdown()
    assert mode(folder) == 0o755
    assert mode(folder / "traces.sqlite3") == 0o600
