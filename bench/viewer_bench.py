"""Speed of the trace viewer: the trace list over 100,000 traces, and a 10,001-run trace in Chromium.

    python bench/viewer_bench.py                  # builds the stores in a temp folder (about a minute)
    python bench/viewer_bench.py --keep DIR       # build once into DIR, reuse on later runs

1. A store of 100,000 traces (5 runs each, 3 services, 1 % with an error) is served by a real
   ``tracing-middleware serve`` (uvicorn) on 127.0.0.1. ``GET /api/traces`` is timed from the client
   (HTTP included): the first page, a later page (by cursor), and each filter. Median of 15 requests.
2. A trace of 10,001 runs (100 groups of 99 tool runs) is opened in Debian's chromium (playwright):
   time from navigation to its first row on screen, then the time per frame while scrolling through it.
"""

from __future__ import annotations

import argparse
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone

import httpx

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tracing_middleware import RunTree  # noqa: E402
from tracing_middleware.core.ids import datetime_to_us  # noqa: E402
from tracing_middleware.exporters.sqlite import SQLiteExporter  # noqa: E402

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
BASE = datetime.now(timezone.utc) - timedelta(days=2)


def build_list_store(path: pathlib.Path, traces: int) -> None:
    exporters = {name: SQLiteExporter(path, service_name=name) for name in ("gateway", "inventory", "pricing")}
    batch: dict[str, list[RunTree]] = {name: [] for name in exporters}
    for i in range(traces):
        start = BASE + timedelta(milliseconds=i * 1500)
        top = RunTree(f"GET /orders/{{id}} #{i % 40}", start_time=start, project_name=f"p{i % 4}", tags=[f"t{i % 10}"],
                      metadata={"tenant": f"c{i % 100}"})  # fmt: skip
        kids = []
        steps = (("gateway", "validate"), ("gateway", "GET inventory/stock"), ("inventory", "GET /stock"),
                 ("pricing", "quote"))  # fmt: skip
        for k, (service, name) in enumerate(steps):
            run = top.create_child(name, "tool")
            run.start_us = datetime_to_us(start) + (k + 1) * 1000
            run.end(error="boom" if (i % 100 == 0 and k == 3) else None, end_time=start + timedelta(milliseconds=k + 5))
            kids.append((service, run))
        top.end(end_time=start + timedelta(milliseconds=20))
        for service, run in kids:
            batch[service].append(run)
        batch["gateway"].append(top)
        if i % 2000 == 1999:
            for name, runs in batch.items():
                exporters[name].export(runs)
                runs.clear()
    for name, runs in batch.items():
        exporters[name].export(runs)
        exporters[name].shutdown()


def build_big_trace(path: pathlib.Path) -> str:
    exporter = SQLiteExporter(path, service_name="batch")
    start = datetime.now(timezone.utc) - timedelta(minutes=5)
    top = RunTree("big batch", start_time=start)
    runs = []
    for g in range(100):
        group = top.create_child(f"group {g}")
        group.start_us = datetime_to_us(start) + g * 200_000
        for j in range(99):
            item = group.create_child(f"item {g}.{j}", "tool")
            item.start_us = group.start_us + j * 2000
            item.end(end_time=start + timedelta(microseconds=g * 200_000 + j * 2000 + 1000))
            runs.append(item)
        group.end(end_time=start + timedelta(microseconds=g * 200_000 + 199_000))
        runs.append(group)
    top.end(end_time=start + timedelta(seconds=20))
    runs.append(top)
    exporter.export(runs)
    exporter.shutdown()
    return top.trace_id


def start_serve(db: pathlib.Path, port: int) -> tuple[subprocess.Popen[str], str, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tracing_middleware", "--db", str(db), "serve", "--port", str(port)],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    assert process.stdout is not None
    line = ""
    while not line.startswith("open: "):
        line = process.stdout.readline()
    url = line.split(" ", 1)[1].strip()
    token = re.search(r"token=(\S+)", url).group(1)  # type: ignore[union-attr]
    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    return process, url, token


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def time_list(db: pathlib.Path) -> None:
    port = free_port()
    process, _, token = start_serve(db, port)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"authorization": f"Bearer {token}"})
    try:
        first = client.get("/api/traces").json()
        cursor = first["next"]
        for _ in range(20):  # a later page: the 21st
            cursor = client.get("/api/traces", params={"cursor": cursor}).json()["next"]
        cases = {
            "first page (50)": {},
            "page 21 (by cursor)": {"cursor": cursor},
            "service=pricing": {"service": "pricing"},
            "project=p2": {"project": "p2"},
            "errors only": {"errors": "1"},
            "since=1d": {"since": "1d"},
            "name contains 'quote'": {"q": "quote"},
            "tag=t3": {"tag": "t3"},
            "meta tenant=c7": {"meta": "tenant=c7"},
        }
        print(f"{'GET /api/traces':32} {'median':>9} {'p90':>9}  traces")
        for label, params in cases.items():
            times, count = [], 0
            for _ in range(15):
                started = time.perf_counter()
                response = client.get("/api/traces", params=params)
                times.append((time.perf_counter() - started) * 1000)
                count = len(response.json()["traces"])
            times.sort()
            print(f"{label:32} {statistics.median(times):7.1f}ms {times[int(len(times) * 0.9) - 1]:7.1f}ms  {count}")
    finally:
        client.close()
        process.terminate()
        process.wait(10)


def time_big_trace(db: pathlib.Path, trace_id: str) -> None:
    from playwright.sync_api import sync_playwright

    port = free_port()
    process, url, _ = start_serve(db, port)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(url)
            firsts = []
            for _ in range(5):
                started = time.perf_counter()
                page.goto(f"http://127.0.0.1:{port}/traces/{trace_id}")
                page.wait_for_selector(f'[data-run-id="{trace_id}"]')
                firsts.append((time.perf_counter() - started) * 1000)
            frames = page.evaluate(
                """() => new Promise((done) => {
                    const box = document.getElementById('scroll'); const times = []; let last = performance.now();
                    let step = 0;
                    function tick(now) {
                        times.push(now - last); last = now; box.scrollTop += 520; step += 1;
                        if (step < 300) requestAnimationFrame(tick); else done(times.slice(1));
                    }
                    requestAnimationFrame(tick);
                })"""
            )
            in_dom = page.locator("[data-run-id]").count()
            browser.close()
        frames.sort()
        print(f"10,001-run trace, first rows on screen: median {statistics.median(firsts):.0f} ms "
              f"(of 5 loads; min {min(firsts):.0f}, max {max(firsts):.0f})")  # fmt: skip
        print(f"scrolling 300 frames of 20 rows each: median frame {statistics.median(frames):.1f} ms, "
              f"p95 {frames[int(len(frames) * 0.95)]:.1f} ms; rows in the DOM: {in_dom}")  # fmt: skip
    finally:
        process.terminate()
        process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--keep", type=pathlib.Path, help="build the stores here once, and reuse them")
    parser.add_argument("--traces", type=int, default=100_000)
    args = parser.parse_args()
    folder = args.keep or pathlib.Path(tempfile.mkdtemp(prefix="viewer-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    list_db, big_db = folder / f"list-{args.traces}.sqlite3", folder / "big.sqlite3"
    if not list_db.exists():
        started = time.perf_counter()
        build_list_store(list_db, args.traces)
        print(f"built {args.traces:,} traces ({args.traces * 5:,} runs) in {time.perf_counter() - started:.0f}s")
    big_db.unlink(missing_ok=True)
    trace_id = build_big_trace(big_db)
    time_list(list_db)
    time_big_trace(big_db, trace_id)


if __name__ == "__main__":
    main()
