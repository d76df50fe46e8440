"""The pytest plugin itself: its fixtures in a real test run, its names, and what loading it costs."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from plugin_support import ENTRY_POINT, MODULE, PLUGIN_ARGS, STRICT_INI, run

from tracing_middleware import get_runtime

pytest_plugins = ["pytester"]

OWN_FIXTURES = {
    "traces",
    "trace_parent",
    "asgi_traced_client",
    "wsgi_traced_client",
    "django_traced_client",
    "django_traced_async_client",
}
# Fixture names and markers other plugins own (pytest-django, pytest-flask, langsmith, ...).
RESERVED = {"client", "app", "settings", "db", "live_server", "langsmith"}
# Modules the plugin must not import: frameworks, HTTP clients, SDKs (and our adapters, which import frameworks).
HEAVY = (
    "fastapi", "starlette", "flask", "werkzeug", "django", "asgiref", "httpx", "httpx2", "requests",
    "urllib3", "anyio", "langsmith", "uvicorn", "opentelemetry", "tracing_middleware.adapters",
)  # fmt: skip

RECORDING_TESTS = """
    from tracing_middleware import trace, traceable

    seen = []

    @traceable(name="load")
    def load():
        return 1

    def test_request_under_the_parent(traces, trace_parent):
        with trace("GET /x", parent=trace_parent.headers):
            load()
        trace_parent.assert_child_of_parent("GET /x")
        assert traces.parent(traces.one("GET /x")) is trace_parent.run
        traces.assert_tree({"GET /x": {"load": {}}})
        seen.append(traces)

    def test_the_parent_was_recorded_after_the_test():
        (recorder,) = seen
        recorder.assert_tree({"test-parent": {"GET /x": {"load": {}}}})

    def test_each_test_starts_empty(traces):
        assert traces.runs == []

    def test_wrong_shape(traces):
        with trace("GET /x"):
            load()
        traces.assert_tree({"GET /x": {"load": {}, "GET api.internal/x": {}}})
"""


def test_fixtures_record_a_test_and_report_a_wrong_tree_as_an_outline(pytester: pytest.Pytester) -> None:
    before = get_runtime().settings
    pytester.makepyfile(test_recording=textwrap.dedent(RECORDING_TESTS))
    result = run(pytester, "-v")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: the recorded runs do not have the expected shape "
            "(under 'GET /x': missing 'GET api.internal/x')",
            "E*expected:",
            "E*  GET /x",
            "E*    load",
            "E*    GET api.internal/x",
            "E*recorded:",
            "E*  GET /x",
            "E*    load",
        ]
    )
    assert get_runtime().settings is before  # the test run's configuration did not leak out of it


def test_the_plugin_owns_only_its_documented_fixture_names(pytester: pytest.Pytester) -> None:
    result = run(pytester, "--fixtures", "-v")
    assert result.ret == 0
    lines = result.stdout.lines
    start = next(i for i, line in enumerate(lines) if "fixtures defined from" in line and "tracing_middleware" in line)
    section = []
    for line in lines[start + 1 :]:
        if line.startswith("---") or line.startswith("==="):
            break
        if line and not line.startswith(" "):
            section.append(line.split()[0])
    assert set(section) == OWN_FIXTURES
    assert not RESERVED & set(section)
    markers = run(pytester, "--markers").stdout.str()
    assert "tracing_middleware" not in markers


def _python(code: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_importing_the_plugin_loads_no_framework_or_client_and_configures_nothing(tmp_path: Path) -> None:
    out = _python(
        f"""
        import json, sys
        before = set(sys.modules)
        import {MODULE}
        from tracing_middleware.core.runtime import get_runtime
        configured = get_runtime().settings is not None
        print(json.dumps({{"new": sorted(set(sys.modules) - before), "configured": configured}}))
        """,
        tmp_path,
    )
    loaded = json.loads(out)
    assert MODULE in loaded["new"]
    heavy = [name for name in loaded["new"] if name.split(".")[0] in HEAVY or name.startswith(HEAVY)]
    assert heavy == []
    assert loaded["configured"] is False


def test_the_plugin_patches_no_client_on_import_or_during_a_test_run(tmp_path: Path) -> None:
    pytest.importorskip("httpx")
    pytest.importorskip("requests")
    (tmp_path / "test_uses_fixtures.py").write_text(
        "def test_it(traces, trace_parent):\n    assert trace_parent.headers and traces.runs == []\n"
    )
    out = _python(
        f"""
        import json, importlib
        import pytest
        names = {{"httpx": ["Client", "AsyncClient"], "httpx2": ["Client", "AsyncClient"], "requests": ["Session"]}}
        def functions():
            found = {{}}
            for module, classes in names.items():
                try:
                    lib = importlib.import_module(module)
                except ImportError:
                    continue
                for cls in classes:
                    for attr in ("send", "request"):
                        found[f"{{module}}.{{cls}}.{{attr}}"] = getattr(getattr(lib, cls), attr)
            return found
        original = functions()
        import {MODULE}
        after_import = functions()
        code = pytest.main([*{list(PLUGIN_ARGS)!r}, "-q", "-p", "no:cacheprovider", "test_uses_fixtures.py"])
        after_run = functions()
        print(json.dumps({{
            "code": int(code),
            "checked": sorted(original),
            "changed_on_import": [k for k in original if after_import[k] is not original[k]],
            "changed_by_run": [k for k in original if after_run[k] is not original[k]],
        }}))
        """,
        tmp_path,
    )
    result = json.loads(out.strip().splitlines()[-1])
    assert result["code"] == 0
    assert "httpx.Client.send" in result["checked"] and "requests.Session.send" in result["checked"]
    assert result["changed_on_import"] == [] and result["changed_by_run"] == []


def test_the_entry_point_line_names_the_plugin(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in distribution declares exactly the ``pytest11`` entry point the package declares.

    ``-p <name>`` loads a plugin by its entry point name, as autoloading does.
    """
    site = pytester.mkdir("site")
    info = site / "stand_in_tracing_middleware-0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: stand-in-tracing-middleware\nVersion: 0\n")
    (info / "entry_points.txt").write_text(f"[pytest11]\n{ENTRY_POINT} = {MODULE}\n")
    pytester.makepyfile(test_auto="def test_auto(traces, trace_parent):\n    assert trace_parent.headers\n")
    pytester.makeini(STRICT_INI)
    monkeypatch.setenv("PYTHONPATH", str(site))
    pytester.runpytest_subprocess("-p", ENTRY_POINT).assert_outcomes(passed=1)
    missing = pytester.runpytest_subprocess()
    missing.assert_outcomes(errors=1)
    missing.stdout.fnmatch_lines(["*fixture 'traces' not found*"])
