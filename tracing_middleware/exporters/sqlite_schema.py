"""The SQLite trace store's file: where it lives, its schema and migrations, and how it is opened.

Default path: ``$TRACING_MIDDLEWARE_DB`` if set, else ``$XDG_DATA_HOME/tracing-middleware/traces.sqlite3``,
else ``~/.local/share/tracing-middleware/traces.sqlite3``.

The file is in WAL mode, so readers never block writers and several processes can write at once
(each write waits for the lock up to a busy timeout). ``schema_version`` holds one row, the version of
the schema the file has; ``MIGRATIONS[n]`` turns version ``n - 1`` into version ``n``.

The store holds every run's inputs, outputs and errors, so it is private to its owner: folders the
package creates are ``0700`` and the file ``0600``. SQLite gives its ``-wal``, ``-shm`` and ``-journal``
files the mode of the database file, so they are ``0600`` too. A store that already exists with wider
permissions is left as it is, with one warning naming the ``chmod`` that fixes it.
"""

from __future__ import annotations

import os
import pathlib
import sqlite3
import stat

from tracing_middleware.core.env import env_text
from tracing_middleware.core.printable import get_logger

__all__ = [
    "COLUMNS",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "StoreError",
    "connect_reader",
    "connect_writer",
    "default_path",
    "ensure_private_dir",
    "is_busy",
]

logger = get_logger("tracing_middleware.export")  # escapes control characters in paths
_SIDE_FILES = ("-wal", "-shm", "-journal")
_warned: set[str] = set()  # one warning per store and process, however often it is reopened

SCHEMA_VERSION = 1

# The runs table, in column order; ``rowid`` (implicit) grows with each insert, which ``tail`` follows.
COLUMNS = (
    "id", "trace_id", "parent_run_id", "dotted_order", "depth", "name", "run_type", "start_us", "end_us",
    "inputs", "outputs", "error", "tags", "metadata", "events", "project", "service",
    "span_id", "parent_span_id", "tracestate",
)  # fmt: skip

MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            trace_id TEXT NOT NULL,
            parent_run_id TEXT,
            dotted_order TEXT NOT NULL,
            depth INTEGER NOT NULL,
            name TEXT NOT NULL,
            run_type TEXT NOT NULL,
            start_us INTEGER NOT NULL,
            end_us INTEGER,
            inputs TEXT,
            outputs TEXT,
            error TEXT,
            tags TEXT,
            metadata TEXT,
            events TEXT,
            project TEXT,
            service TEXT,
            span_id TEXT,
            parent_span_id TEXT,
            tracestate TEXT
        )""",
        "CREATE INDEX runs_trace ON runs (trace_id, dotted_order)",
        "CREATE INDEX runs_start ON runs (start_us)",
        "CREATE INDEX runs_project ON runs (project, start_us)",
        "CREATE INDEX runs_service ON runs (service, start_us)",
        "CREATE INDEX runs_name ON runs (name, start_us)",
    ),
}


class StoreError(Exception):
    """The trace store cannot be read or written: missing, corrupt, read-only, locked or full."""


def default_path() -> pathlib.Path:
    """The store's path when none is given (see the module docstring)."""
    explicit = env_text("TRACING_MIDDLEWARE_DB", "")
    if explicit:
        return pathlib.Path(explicit).expanduser()
    data_home = env_text("XDG_DATA_HOME", "")
    base = pathlib.Path(data_home).expanduser() if data_home else pathlib.Path.home() / ".local" / "share"
    return base / "tracing-middleware" / "traces.sqlite3"


def is_busy(error: sqlite3.Error) -> bool:
    """True when ``error`` means another connection holds the lock: worth retrying."""
    name = getattr(error, "sqlite_errorname", "")
    if name:
        return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))
    text = str(error)
    return "locked" in text or "busy" in text


def ensure_private_dir(folder: pathlib.Path) -> None:
    """Create ``folder`` and any missing parent with mode ``0700``; existing folders are left as they are."""
    missing: list[pathlib.Path] = []
    current = folder
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for part in reversed(missing):
        try:
            part.mkdir(mode=0o700)
        except FileExistsError:  # another process made it first
            continue
        os.chmod(part, 0o700)  # mkdir's mode is narrowed by the umask, never widened; chmod pins it


def _create_private_file(path: pathlib.Path) -> None:
    # SQLite would create the file 0644 (less the umask); an empty file is a valid empty database, and
    # SQLite then copies its 0600 onto the -wal, -shm and -journal files it makes beside it.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def _warn_if_shared(path: pathlib.Path) -> None:
    # Only the files matter: a wide folder (say /tmp) shows their names, not what they hold.
    key = str(path.absolute())
    if key in _warned:
        return
    wide = []
    for file in (path, *(path.with_name(path.name + suffix) for suffix in _SIDE_FILES)):
        try:
            mode = stat.S_IMODE(file.stat().st_mode)
        except OSError:
            continue
        if mode & 0o077:
            wide.append(str(file))
    if wide:
        _warned.add(key)
        logger.warning(
            "the trace store %s can be read by other users of this machine; to fix: chmod 600 %s", path, " ".join(wide)
        )


def connect_writer(path: pathlib.Path, timeout_s: float) -> sqlite3.Connection:
    """A read-write connection in autocommit mode, the file and its schema created (private) if missing."""
    try:
        ensure_private_dir(path.parent)
    except OSError as error:
        raise StoreError(f"cannot create the trace store's folder {path.parent}: {error}") from error
    _check_writable(path)
    try:
        _create_private_file(path)
    except OSError as error:
        raise StoreError(f"cannot create the trace store {path}: {error}") from error
    _warn_if_shared(path)
    try:
        conn = sqlite3.connect(path, timeout=timeout_s, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as error:
        raise StoreError(f"cannot open the trace store {path}: {error}") from error
    try:
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a commit survives the app crashing; only a power cut may lose the last batches.
        conn.execute("PRAGMA synchronous=NORMAL")
        _migrate(conn, path)
    except sqlite3.DatabaseError as error:
        conn.close()
        if is_busy(error):
            raise  # the caller waits and retries
        raise StoreError(f"cannot use the trace store {path}: {error}") from error
    except BaseException:
        conn.close()
        raise
    return conn


def _check_writable(path: pathlib.Path) -> None:
    # Opening a read-only store would leave -wal/-shm files with its read-only mode behind, and they
    # would keep the store read-only after its own mode is fixed: refuse before SQLite creates them.
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists() and not os.access(file, os.W_OK):
            raise StoreError(f"the trace store file {file} is read-only: make it writable (chmod u+w)")


def _version(conn: sqlite3.Connection) -> int:
    found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").fetchone()
    if found is None:
        return 0
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def _migrate(conn: sqlite3.Connection, path: pathlib.Path) -> None:
    if _version(conn) == SCHEMA_VERSION:  # the usual case: a plain read, no write lock taken
        return
    conn.execute("BEGIN IMMEDIATE")  # two processes creating the file at once: one migrates, one waits
    try:
        current = _version(conn)
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"the trace store {path} has schema version {current}; this version of tracing-middleware "
                f"knows up to {SCHEMA_VERSION}: upgrade tracing-middleware or use another file"
            )
        if current == 0:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        for version in range(current + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
        if current < SCHEMA_VERSION:
            conn.execute("DELETE FROM schema_version")
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def connect_reader(path: pathlib.Path, timeout_s: float = 5.0) -> sqlite3.Connection:
    """A read-only connection to an existing store; ``StoreError`` if it is missing, corrupt or foreign."""
    if not path.exists():
        raise StoreError(f"no trace store at {path}: run a traced app first, or set TRACING_MIDDLEWARE_DB")
    uri = path.absolute().as_uri() + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=timeout_s, check_same_thread=False)
    except sqlite3.Error as error:
        raise StoreError(f"cannot open the trace store {path}: {error}") from error
    try:
        version = _version(conn)
    except sqlite3.DatabaseError as error:
        conn.close()
        raise StoreError(f"{path} is not a readable trace store (corrupt or not SQLite): {error}") from error
    if version == 0:
        conn.close()
        raise StoreError(f"{path} is an SQLite file but not a trace store (it has no schema_version table)")
    if version > SCHEMA_VERSION:
        conn.close()
        raise StoreError(f"{path} has schema version {version}; upgrade tracing-middleware to read it")
    return conn
