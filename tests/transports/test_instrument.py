"""instrument()/uninstrument(): no import-time patching, idempotent, reversible, thread-safe, fail-soft."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import threading
from typing import Any

import pytest

httpx = pytest.importorskip("httpx")
requests = pytest.importorskip("requests")
ALL = sorted(["httpx", "requests", *(["aiohttp"] if importlib.util.find_spec("aiohttp") else [])])

import tracing_middleware as tm  # noqa: E402
from tracing_middleware.transports.instrument import instrument, instrumented, uninstrument  # noqa: E402


def run_python(code: str) -> Any:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_patches_nothing_and_loads_no_client_library() -> None:
    loaded = run_python(
        "import sys, json\n"
        "import tracing_middleware, tracing_middleware.transports.instrument, tracing_middleware.transports\n"
        "before = sorted(m for m in ('httpx', 'httpx2', 'requests') if m in sys.modules)\n"
        "import httpx, requests\n"
        "wrapped = [hasattr(f, '__wrapped__') for f in (httpx.Client._send_single_request, requests.Session.send)]\n"
        "print(json.dumps([before, wrapped]))"
    )
    assert loaded == [[], [False, False]]


def test_a_missing_library_is_skipped() -> None:
    patched = run_python(
        "import sys, json\n"
        "sys.modules['requests'] = sys.modules['aiohttp'] = None\n"
        "from tracing_middleware.transports.instrument import instrument\n"
        "first = instrument()\n"
        "sys.modules['httpx'] = sys.modules['httpx2'] = None\n"
        "from tracing_middleware.transports.instrument import uninstrument\n"
        "uninstrument()\n"
        "for name in list(sys.modules):\n"
        "    if name.startswith('tracing_middleware.transports.httpx'): del sys.modules[name]\n"
        "print(json.dumps([first, instrument()]))"
    )
    assert patched == [["httpx"], []]


def test_second_instrument_is_a_no_op_and_uninstrument_twice_is_safe() -> None:
    original = httpx.Client.__dict__["_send_single_request"]
    assert instrument() == ALL
    patched = httpx.Client.__dict__["_send_single_request"]
    assert instrument() == ALL
    assert httpx.Client.__dict__["_send_single_request"] is patched and patched.__wrapped__ is original
    uninstrument()
    uninstrument()
    assert httpx.Client.__dict__["_send_single_request"] is original and instrumented() == []


def test_instrument_one_library_at_a_time() -> None:
    original_send = requests.Session.__dict__["send"]
    assert instrument(requests=False, aiohttp=False) == ["httpx"]
    assert requests.Session.__dict__["send"] is original_send
    assert instrument(httpx=False, aiohttp=False) == ["httpx", "requests"]
    uninstrument(requests=False)
    assert instrumented() == ["requests"]


def test_concurrent_instrument_calls_patch_once() -> None:
    original = httpx.Client.__dict__["_send_single_request"]
    barrier = threading.Barrier(8)

    def race() -> None:
        barrier.wait()
        instrument()

    threads = [threading.Thread(target=race) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert httpx.Client.__dict__["_send_single_request"].__wrapped__ is original


def test_a_patch_stacked_on_ours_survives_uninstrument(memory: tm.InMemoryExporter) -> None:
    original = httpx.Client.__dict__["_send_single_request"]
    instrument()
    ours = httpx.Client.__dict__["_send_single_request"]
    calls: list[str] = []

    def theirs(self: Any, request: Any) -> Any:
        calls.append(str(request.url))
        return ours(self, request)

    httpx.Client._send_single_request = theirs
    try:
        uninstrument()
        assert httpx.Client.__dict__["_send_single_request"] is theirs
        seen: dict[str, str] = {}

        def handler(request: Any) -> Any:
            seen.update(request.headers)
            return httpx.Response(200)

        with httpx.Client(transport=httpx.MockTransport(handler)) as client, tm.trace("handler"):
            client.get("http://svc.internal/x")
        assert calls == ["http://svc.internal/x"]
        assert "langsmith-trace" not in seen  # ours is switched off, theirs still runs
    finally:
        httpx.Client._send_single_request = original


def test_bad_arguments_name_the_valid_choices() -> None:
    with pytest.raises(TypeError, match="httpx must be True or False"):
        instrument(httpx="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="targets must be"):
        instrument(targets=5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"\*\.domain"):
        instrument(targets=["bad host/"])
    assert instrumented() == []
