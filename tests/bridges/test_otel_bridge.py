"""The OpenTelemetry bridge with the real SDK and its in-memory span exporter, in a process of its own.

A global tracer provider can be set once per process, so the checks (``otel_checks.py``) run in a
subprocess: first with no provider (the bridge does nothing), then with one.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.sdk")

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "otel_checks.py"


def test_every_opentelemetry_check_passes() -> None:
    wanted = [
        node.name
        for node in ast.parse(SCRIPT.read_text()).body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("check_")
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent.parent), os.environ.get("PYTHONPATH", "")])}
    env.pop("OTEL_PYTHON_TRACER_PROVIDER", None)
    done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=300, env=env, cwd=HERE)
    passed = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("ok ")]
    assert done.returncode == 0, done.stderr[-4000:]
    assert passed == wanted and len(wanted) >= 9
