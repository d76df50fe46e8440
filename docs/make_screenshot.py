"""Make docs/viewer.png, the README's picture of the trace page: the real demo's trace, in Chromium.

    python docs/make_screenshot.py

Runs ``tracing-middleware demo`` into a temporary store, serves it with ``tracing-middleware serve``,
opens the trace with one run's detail panel in Debian's chromium (playwright), and saves the picture.
"""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "viewer.png"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def main() -> None:
    """Run the demo, serve its store on a free port, and save the trace page as docs/viewer.png."""
    import httpx
    from playwright.sync_api import sync_playwright

    db = pathlib.Path(tempfile.mkdtemp(prefix="tm-shot-")) / "traces.sqlite3"
    demo = subprocess.run([sys.executable, "-m", "tracing_middleware", "--plain", "--db", str(db), "demo"],
                          capture_output=True, text=True, check=True, cwd=ROOT)  # fmt: skip
    trace_id = re.search(r"trace id:\s+(\S+)", demo.stdout).group(1)  # type: ignore[union-attr]
    serve = subprocess.Popen([sys.executable, "-m", "tracing_middleware", "--db", str(db), "serve", "--port", "0",
                              "--trace", trace_id], stdout=subprocess.PIPE, text=True, cwd=ROOT)  # fmt: skip
    try:
        assert serve.stdout is not None
        line = ""
        while not line.startswith("open: "):
            line = serve.stdout.readline()
        url = line.split(" ", 1)[1].strip()
        base = url.split("/traces/", 1)[0]
        for _ in range(100):
            try:
                httpx.get(base + "/", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1360, "height": 560}, device_scale_factor=1)
            page.goto(url)
            page.wait_for_selector("body[data-loaded]")
            page.locator(".wf-row", has_text="GET /stock/<order_id>").first.locator(".label").click()
            page.wait_for_selector("#detail h2")
            page.wait_for_timeout(300)
            page.screenshot(path=str(OUT))
            browser.close()
    finally:
        serve.terminate()
        serve.wait(10)
    print(f"wrote {OUT} ({OUT.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
