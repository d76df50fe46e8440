"""Dependency direction: the core is standard library only, layers point one way, and importing the package
loads no framework.

The layers, lowest first: ``core`` → ``middleware`` → ``adapters`` / ``transports`` / ``exporters`` /
``bridges`` (side by side, none importing another) → everything else (the package's ``__init__``, the
CLI, the viewer, ``testing``, the demo). A module imports only from its own layer or the ones below;
``importlib.import_module("...")`` and ``__import__("...")`` with a literal name count as imports.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "tracing_middleware"
OPTIONAL_SPEEDUPS = {"uuid_utils", "xxhash"}  # imported inside try/except ImportError, with a fallback
THIRD_PARTY = ("httpx", "httpx2", "requests", "flask", "django", "starlette", "fastapi", "werkzeug", "langsmith",
               "opentelemetry", "rich", "uvicorn", "sentry_sdk", "celery", "aiohttp", "structlog")  # fmt: skip


LOWER_LAYERS = {"core": set(), "middleware": {"core"}}
SIDE_BY_SIDE = ("adapters", "transports", "exporters", "bridges")
for _name in SIDE_BY_SIDE:
    LOWER_LAYERS[_name] = {"core", "middleware"}


# Loaded by name when configure() asks for them, as exporters are through config.EXPORTERS: the
# settings name the bridges, and configure() hands them over. Any other string import is caught.
LAZY_BY_NAME = {("core/config.py", "tracing_middleware.bridges")}

# Reading the version string loads nothing new: the package is always imported before its modules.
VERSION = ("tracing_middleware", "tracing_middleware.__version__")


def _string_import(node: ast.AST) -> str | None:
    """The literal module name of ``importlib.import_module("x")`` / ``import_module("x")`` / ``__import__("x")``."""
    if not isinstance(node, ast.Call) or not node.args:
        return None
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    first = node.args[0]
    if name in ("import_module", "__import__") and isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value
    return None


def imported_modules(path: Path) -> set[str]:
    """Every absolute module name ``path`` imports, by statement or by a literal string."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        else:
            literal = _string_import(node)
            if literal is not None:
                names.add(literal)
    return names


def imported_roots(path: Path) -> set[str]:
    return {name.split(".")[0] for name in imported_modules(path)}


def _layer(module: str) -> str:
    """The layer of a ``tracing_middleware...`` module name: its subpackage, or "top"."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LOWER_LAYERS else "top"


def test_the_core_imports_only_the_standard_library() -> None:
    allowed = set(sys.stdlib_module_names) | {"tracing_middleware"} | OPTIONAL_SPEEDUPS
    for path in sorted((PACKAGE / "core").rglob("*.py")):
        foreign = imported_roots(path) - allowed
        assert not foreign, f"{path.relative_to(PACKAGE)} imports {sorted(foreign)}"


def test_the_core_never_imports_its_callers() -> None:
    # Exporters chosen by name are imported lazily through config.EXPORTERS, never by an import statement.
    for path in sorted((PACKAGE / "core").rglob("*.py")):
        for name in imported_modules(path):
            if (
                name.startswith("tracing_middleware.")
                and (path.relative_to(PACKAGE).as_posix(), name) not in LAZY_BY_NAME
            ):
                assert name.startswith("tracing_middleware.core"), f"{path.relative_to(PACKAGE)} imports {name}"


def test_layers_point_one_way() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = path.relative_to(PACKAGE).parts[0]
        if own not in LOWER_LAYERS:
            continue  # the top layer may import anything
        for name in sorted(imported_modules(path)):
            if name in VERSION or not name.startswith("tracing_middleware"):
                continue
            target = _layer(name)
            if (path.relative_to(PACKAGE).as_posix(), name) in LAZY_BY_NAME:
                continue
            if target != own and target not in LOWER_LAYERS[own]:
                wrong.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert wrong == []


def test_string_imports_are_seen(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import importlib\n"
        "def f():\n"
        "    importlib.import_module('tracing_middleware.transports.instrument')\n"
        "    __import__('tracing_middleware.exporters.otlp')\n"
        "    importlib.import_module(name_in_a_variable)\n"
    )
    assert {"tracing_middleware.transports.instrument", "tracing_middleware.exporters.otlp"} <= imported_modules(sample)


def test_importing_the_package_loads_no_framework_or_client() -> None:
    code = (
        "import sys, tracing_middleware, tracing_middleware.testing.plugin as _p\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {THIRD_PARTY!r}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
