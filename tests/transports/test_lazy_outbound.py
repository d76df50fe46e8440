"""The automatic switch patches a client library when the app imports it, and never imports one itself."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("httpx")
pytest.importorskip("requests")
pytest.importorskip("langsmith")

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = textwrap.dedent(
    """
    import sys
    import tracing_middleware as tm
    from tracing_middleware import bridges
    from tracing_middleware.transports.instrument import instrumented

    @tm.traceable
    def first():
        return sorted(m for m in ("httpx", "requests", "aiohttp", "langsmith") if m in sys.modules)

    print("loaded by the first run:", first())
    print("patched:", instrumented(), "bridges on:", bridges.active())
    from tracing_middleware.core.context import registered_bridges
    print("registered:", len(registered_bridges()))
    import httpx  # the app starts using httpx after its first run

    seen = []
    def handler(request):
        seen.append(request.headers.get("langsmith-trace"))
        return httpx.Response(200)

    @tm.traceable
    def call():
        with httpx.Client(transport=httpx.MockTransport(handler)) as client:
            client.get("http://127.0.0.1:9/")
        return tm.get_current_run_tree().dotted_order

    order = call()
    print("patched after import:", instrumented(), "header sent:", bool(seen[0]) and seen[0].startswith(order))
    import langsmith
    print("registered after langsmith:", [type(b).__name__ for b in registered_bridges()])
    """
)


def test_libraries_the_app_never_imports_are_not_loaded_and_later_imports_are_patched() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TRACING_MIDDLEWARE_EXPORTER": "none"}
    for name in ("TRACING_MIDDLEWARE_OUTBOUND", "TRACING_MIDDLEWARE_BRIDGES", "LANGSMITH_TRACING"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "loaded by the first run: []" in out
    assert "patched: [] bridges on: ('langsmith', 'otel')" in out
    assert "registered: 0" in out
    assert "patched after import: ['httpx'] header sent: True" in out
    assert "LangSmithBridge" in out.split("registered after langsmith:")[1]


def test_a_library_first_imported_by_our_own_transport_module_is_patched_once_without_warnings() -> None:
    script = textwrap.dedent(
        """
        import sys
        import tracing_middleware as tm
        from tracing_middleware.transports.instrument import instrument, instrumented

        @tm.traceable
        def first():
            return "requests" in sys.modules

        print("requests loaded:", first())
        import tracing_middleware.transports.requests  # imports requests: the switch waits for it
        print("patched:", instrumented())
        instrument()  # an explicit call afterwards patches nothing twice
        print("patched again:", instrumented())
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TRACING_MIDDLEWARE_EXPORTER": "none"}
    env.pop("TRACING_MIDDLEWARE_OUTBOUND", None)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "requests loaded: False" in done.stdout
    assert "patched: ['requests']" in done.stdout
    assert "patched again: ['aiohttp', 'httpx', 'requests']" in done.stdout
    assert "after importing" not in done.stderr and "Traceback" not in done.stderr
