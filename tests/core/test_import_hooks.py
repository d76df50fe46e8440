"""``when_imported``: a callback runs once a module is imported, and nothing is imported for it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout + done.stderr


def test_a_callback_waits_for_the_import_and_runs_once_after_it() -> None:
    out = run(
        """
        import sys
        from tracing_middleware.core.import_hooks import when_imported
        calls = []
        when_imported("fractions", lambda m: calls.append(m.Fraction(1, 2)))
        print("imported before:", "fractions" in sys.modules, calls)
        import fractions
        import importlib; importlib.reload(fractions)  # a reload is not a first import
        print("after:", calls)
        when_imported("fractions", lambda m: calls.append("now"))  # already imported: at once
        print("then:", calls)
        """
    )
    assert "imported before: False []" in out
    assert "after: [Fraction(1, 2)]" in out
    assert "then: [Fraction(1, 2), 'now']" in out


def test_the_module_keeps_its_loader_features_and_a_failing_callback_does_not_break_the_import() -> None:
    out = run(
        """
        import importlib.resources
        from tracing_middleware.core.import_hooks import when_imported
        def fail(module): raise RuntimeError("boom")
        when_imported("email", fail)
        import email.mime.text  # the package and a submodule import as usual
        print("resources:", importlib.resources.files("email").joinpath("__init__.py").is_file())
        print("loader source:", email.__spec__.loader.get_source("email") is not None)
        """
    )
    assert "resources: True" in out and "loader source: True" in out
    assert "after importing email: RuntimeError: boom" in out  # one logged line, no exception


def test_cancel_forgets_the_callbacks() -> None:
    out = run(
        """
        from tracing_middleware.core.import_hooks import cancel, when_imported
        calls = []
        when_imported("fractions", calls.append)
        cancel("fractions")
        import fractions
        print("calls:", calls)
        """
    )
    assert "calls: []" in out
