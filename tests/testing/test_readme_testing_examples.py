"""The README's "Testing your traces" examples run as written, each in a fresh pytest process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def _section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## Testing your traces")
    return text[start : text.index("\n## ", start + 1)]


def _files(framework: str) -> dict[str, str]:
    section = _section()
    part = section[section.index(f"**{framework}**") :]
    following = [m.start() for m in re.finditer(r"\n\*\*(FastAPI|Flask|Django)\*\*", part[1:])]
    part = part[: following[0] + 1] if following else part
    files: dict[str, str] = {}
    for block in BLOCK.findall(part):
        first = block.splitlines()[0]
        name = first[2:].strip() if first.startswith("# ") and first.endswith(".py") else "test_example.py"
        files[name] = block
    return files


@pytest.mark.parametrize("framework", ["FastAPI", "Flask", "Django"])
def test_example_runs_as_written(framework: str, tmp_path: Path) -> None:
    pytest.importorskip(framework.lower())
    files = _files(framework)
    assert any(name.startswith("test_") for name in files), files
    for name, code in files.items():
        (tmp_path / name).write_text(code, encoding="utf-8")
    # Entry points stay off (other installed plugins out of it); the plugin is named as its entry point loads it.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TRACING_MIDDLEWARE_EXPORTER": "none"}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tracing_middleware.testing.plugin", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout
