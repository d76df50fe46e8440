"""Dependency direction: the core is standard library only, and importing the package loads no framework."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "tracing_middleware"
OPTIONAL_SPEEDUPS = {"uuid_utils", "xxhash"}  # imported inside try/except ImportError, with a fallback
THIRD_PARTY = ("httpx", "httpx2", "requests", "flask", "django", "starlette", "fastapi", "werkzeug", "langsmith",
               "opentelemetry", "rich", "uvicorn", "sentry_sdk", "celery", "aiohttp", "structlog")  # fmt: skip


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_core_imports_only_the_standard_library() -> None:
    allowed = set(sys.stdlib_module_names) | {"tracing_middleware"} | OPTIONAL_SPEEDUPS
    for path in sorted((PACKAGE / "core").rglob("*.py")):
        foreign = imported_roots(path) - allowed
        assert not foreign, f"{path.relative_to(PACKAGE)} imports {sorted(foreign)}"


def test_the_core_never_imports_its_callers() -> None:
    # Exporters chosen by name are imported lazily through config.EXPORTERS, never by an import statement.
    for path in sorted((PACKAGE / "core").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names.append(node.module)
            for name in names:
                if name.startswith("tracing_middleware."):
                    assert name.startswith("tracing_middleware.core"), f"{path.relative_to(PACKAGE)} imports {name}"


def test_importing_the_package_loads_no_framework_or_client() -> None:
    code = (
        "import sys, tracing_middleware, tracing_middleware.testing.plugin as _p\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {THIRD_PARTY!r}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
