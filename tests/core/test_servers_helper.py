"""The test suite's server-subprocess helper (``tests/servers.py``): ready, stopped, and loud on failure."""

from __future__ import annotations

import signal
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest
import servers

ANNOUNCING = textwrap.dedent(
    """
    import http.server, sys, threading
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/health" else 404)
            self.send_header("content-length", "0")
            self.end_headers()
        def log_message(self, *args):
            pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    sys.stdin.read()  # serve until stdin closes
    print("stopped by stdin", file=sys.stderr, flush=True)
    """
)


def test_an_announcing_server_is_ready_and_stops_when_stdin_closes(tmp_path: Path) -> None:
    log = tmp_path / "announce.log"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with servers.serve([sys.executable, "-c", ANNOUNCING], log=log, health="/health", stop=None) as served:
        assert opener.open(served.base + "/health").status == 200
    assert served.process.returncode == 0
    assert "stopped by stdin" in log.read_text()


def test_a_server_on_a_given_port_gets_the_stop_signal(tmp_path: Path) -> None:
    port = servers.free_port()
    script = textwrap.dedent(
        f"""
        import signal, socket, sys, time
        signal.signal(signal.SIGTERM, lambda *a: (print("graceful", flush=True), sys.exit(0)))
        sock = socket.socket(); sock.bind(("127.0.0.1", {port})); sock.listen()
        while True:
            time.sleep(0.1)
        """
    )
    log = tmp_path / "port.log"
    with servers.serve([sys.executable, "-c", script], log=log, port=port, stop=signal.SIGTERM) as served:
        assert served.port == port
    assert served.process.returncode == 0 and "graceful" in log.read_text()


def test_a_server_that_dies_fails_with_its_log(tmp_path: Path) -> None:
    script = "import sys; print('cannot bind: address in use', file=sys.stderr); sys.exit(3)"
    with (
        pytest.raises(AssertionError, match=r"exited with 3(.|\n)*cannot bind"),
        servers.serve([sys.executable, "-c", script], log=tmp_path / "dies.log", port=servers.free_port()),
    ):
        pass  # pragma: no cover - never reached
