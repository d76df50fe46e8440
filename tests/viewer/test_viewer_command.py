"""``tracing-middleware serve`` as a command: where it listens, what it prints, how ``--open`` hands over the URL."""

from __future__ import annotations

import os
import pathlib
import shutil
import socket
import stat
import subprocess
import sys
import time

import httpx
from viewer_support import ROOT, root, serve, store

from tracing_middleware.viewer.command import allowed_hosts, redirect_file, viewer_url


def test_a_busy_port_is_one_line_and_exit_1(tmp_path: pathlib.Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "tracing_middleware", "--db", str(tmp_path / "t.sqlite3"),
             "serve", "--port", str(port)],
            capture_output=True, text=True, timeout=60, cwd=ROOT,
        )  # fmt: skip
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "open:" not in done.stdout  # no URL for a server that is not there


def test_port_0_picks_a_free_port_and_prints_it(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "t.sqlite3"
    store(db, [root("x", 0, 1)])
    process = subprocess.Popen(
        [sys.executable, "-m", "tracing_middleware", "--db", str(db), "serve", "--port", "0"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = ""
        while not line.startswith("open: "):
            line = process.stdout.readline()
        url = line.split(" ", 1)[1].strip()
        assert url.startswith("http://127.0.0.1:") and ":0/" not in url
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(url, timeout=5, follow_redirects=True)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert response.status_code == 200 and 'data-page="list"' in response.text
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_open_hands_the_browser_a_private_file_not_the_token(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "t.sqlite3"
    trace = root("x", 0, 1)
    store(db, [trace])
    seen = tmp_path / "browser-args.txt"
    fake_browser = tmp_path / "browser.py"
    fake_browser.write_text(
        "import pathlib, sys\n"
        f"pathlib.Path({str(seen)!r}).write_text(sys.argv[1] + '\\n' + pathlib.Path(sys.argv[1][7:]).read_text())\n"
    )
    env = {**os.environ, "BROWSER": f"{sys.executable} {fake_browser} %s"}
    with serve(db, "--open", "--trace", trace.trace_id, env=env) as running:
        deadline = time.monotonic() + 30
        while not seen.exists() or not seen.read_text():
            assert time.monotonic() < deadline, "the browser was not started"
            time.sleep(0.1)
        argument, _, content = seen.read_text().partition("\n")
        assert argument.startswith("file://") and running.token not in argument
        assert f"/traces/{trace.trace_id}?token={running.token}" in content
        opened = pathlib.Path(argument[7:])
        assert stat.S_IMODE(opened.stat().st_mode) == 0o600
        assert stat.S_IMODE(opened.parent.stat().st_mode) == 0o700
    assert not opened.exists()  # removed when the server stops


def test_redirect_file_escapes_the_url() -> None:
    path = redirect_file('http://127.0.0.1:1/?token=a"><script>')
    text = path.read_text()
    shutil.rmtree(path.parent)
    assert "<script>" not in text and "&quot;&gt;&lt;script&gt;" in text


def test_allowed_hosts_and_urls() -> None:
    assert allowed_hosts("127.0.0.1", []) == {"127.0.0.1", "localhost", "::1"}
    assert "viewer.internal" in allowed_hosts("127.0.0.1", ["Viewer.Internal"])
    wide = allowed_hosts("0.0.0.0", [])
    assert socket.gethostname().lower() in wide and "evil.example" not in wide
    assert viewer_url("0.0.0.0", 8765, "tok") == "http://127.0.0.1:8765/?token=tok"
    assert viewer_url("::1", 8765, None, "abc") == "http://[::1]:8765/traces/abc"


def test_the_store_under_tracing_middleware_db_is_private(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "chosen" / "deeper" / "mine.sqlite3"
    env = {**os.environ, "TRACING_MIDDLEWARE_DB": str(db)}
    code = (
        "import tracing_middleware as tm\ntm.configure(exporter='sqlite')\nwith tm.trace('one'): pass\ntm.flush(10)\n"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60, cwd=ROOT)
    assert stat.S_IMODE((tmp_path / "chosen").stat().st_mode) == 0o700
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    files = list(db.parent.iterdir())
    assert db in files
    for file in files:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
