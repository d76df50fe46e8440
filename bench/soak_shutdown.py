"""Soak: N requests through ``uvicorn --workers 2`` with C in flight, then SIGTERM; how many runs were lost.

    python bench/soak_shutdown.py                      # 20,000 requests, 100 in flight
    python bench/soak_shutdown.py -n 2000 -c 50 --json

A FastAPI app with ``TracingMiddleware`` and the default SQLite exporter runs under uvicorn with two
workers (127.0.0.1 only). Every request carries its number; SIGTERM goes to uvicorn's parent right after
the last response. Then the store is read back: every answered request must have its run (``lost``
should be 0). Also printed: requests per second, the time from SIGTERM to exit, and the peak RSS of
each child process (``VmHWM``, polled while the load runs: the workers and multiprocessing's helper).
Bounded: the load stops after N requests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs

ROOT = Path(__file__).resolve().parent.parent
APP = """
from fastapi import FastAPI
from tracing_middleware.adapters.fastapi import TracingMiddleware

app = FastAPI()
app.add_middleware(TracingMiddleware, exclude_paths=["/health"])

@app.get("/work")
async def work(i: int) -> dict:
    return {"i": i}

@app.get("/health")
async def health() -> dict:
    return {}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _hwm_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


async def _get(port: int, path: str) -> int:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return 0
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        status = await reader.readline()
        await reader.read()
        return int(status.split()[1]) if status else 0
    except (OSError, IndexError, ValueError):
        return 0
    finally:
        writer.close()


async def _load(port: int, total: int, concurrency: int, server_pid: int, peaks: dict[int, int]) -> set[int]:
    answered: set[int] = set()
    numbers = iter(range(total))

    async def worker() -> None:
        for i in numbers:
            if await _get(port, f"/work?i={i}") == 200:
                answered.add(i)

    async def watch() -> None:
        while True:
            for child in _children(server_pid):
                peaks[child] = max(peaks.get(child, 0), _hwm_kib(child))
            await asyncio.sleep(0.5)

    watcher = asyncio.create_task(watch())
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    watcher.cancel()
    return answered


def _stored(db: Path) -> list[int]:
    conn = sqlite3.connect(db, timeout=60)
    try:
        rows = conn.execute("SELECT inputs FROM runs WHERE name = 'GET /work'").fetchall()
    finally:
        conn.close()
    return [int(parse_qs(json.loads(text)["query"])["i"][0]) for (text,) in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20_000, help="requests (default 20,000)")
    parser.add_argument("-c", type=int, default=100, help="requests in flight (default 100)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tm-soak-") as tmp:
        folder = Path(tmp)
        (folder / "soak_app.py").write_text(APP)
        db = folder / "traces.sqlite3"
        port = _free_port()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), tmp]), "TRACING_MIDDLEWARE_DB": str(db),
               "TRACING_MIDDLEWARE_EXPORTER": "sqlite"}  # fmt: skip
        command = [sys.executable, "-m", "uvicorn", "soak_app:app", "--port", str(port), "--workers",
                   str(args.workers), "--log-level", "warning", "--no-access-log"]  # fmt: skip
        with (folder / "server.log").open("wb") as log:
            server = subprocess.Popen(command, cwd=tmp, env=env, stdout=log, stderr=log)
            try:
                deadline = time.monotonic() + 60
                while asyncio.run(_get(port, "/health")) != 200:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("the server did not start:\n" + (folder / "server.log").read_text())
                    time.sleep(0.2)
                peaks: dict[int, int] = {}
                started = time.monotonic()
                answered = asyncio.run(_load(port, args.n, args.c, server.pid, peaks))
                elapsed = time.monotonic() - started
                stop = time.monotonic()
                server.send_signal(signal.SIGTERM)
                server.wait(120)
                stop_s = time.monotonic() - stop
            finally:
                if server.poll() is None:
                    server.kill()
        stored = _stored(db)
        result = {
            "requests": args.n, "in_flight": args.c, "workers": args.workers, "answered": len(answered),
            "stored": len(set(stored)), "duplicates": len(stored) - len(set(stored)),
            "lost": len(answered - set(stored)), "requests_per_s": round(len(answered) / elapsed),
            "sigterm_to_exit_s": round(stop_s, 2), "exit_code": server.returncode,
            "peak_rss_mib_per_child": sorted(round(kib / 1024, 1) for kib in peaks.values()),
            "load_average": os.getloadavg()[0],
        }  # fmt: skip
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:26} {value}")


if __name__ == "__main__":
    main()
