"""The declared floors, the `oldest` constraints and the README's table say the same versions."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = ROOT / "constraints" / "oldest.txt"

pytestmark = pytest.mark.skipif(
    sys.version_info < (3, 11), reason="reads pyproject.toml with tomllib, in the standard library from Python 3.11"
)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def release(version: str) -> tuple[int, ...]:
    """``0.30`` and ``0.30.0`` are the same release."""
    parts = [int(p) for p in version.split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def declared_floors(*, test_tools: bool = True) -> dict[str, str]:
    """Every third-party requirement of every extra, as name -> the version after ``>=``.

    ``test_tools=False`` leaves out what only the ``test`` extra asks for (pytest and the like float).
    """
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    floors: dict[str, str] = {}
    for extra, requirements in sorted(project["optional-dependencies"].items(), key=lambda item: item[0] == "test"):
        for requirement in requirements:
            if requirement.startswith("tracing-middleware["):
                continue
            match = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*>=\s*([0-9][0-9.]*)(\s*;.*)?", requirement)
            assert match, f"{requirement!r}: every requirement names a floor with >= (and perhaps a marker)"
            name, floor = canonical(match[1]), match[2]
            if extra == "test" and not test_tools and name not in floors:
                continue
            assert floors.setdefault(name, floor) == floor, f"{name}: two extras declare different floors"
    return floors


def pinned() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in CONSTRAINTS.read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([0-9][0-9a-z.]*)", line.split("#")[0].strip())
        if match:
            pins[canonical(match[1])] = match[2]
    return pins


def test_every_extra_is_pinned_at_its_floor_for_the_oldest_environment() -> None:
    floors, pins = declared_floors(test_tools=False), pinned()
    for name, floor in floors.items():
        assert name in pins, f"{name} has no pin in {CONSTRAINTS.name}"
        assert release(pins[name]) == release(floor), f"{name}: pinned {pins[name]}, declared >= {floor}"


def test_the_readme_table_names_each_framework_and_client_floor() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Supported versions", 1)[1].split("\n## ", 1)[0]
    floors = declared_floors()
    names = (
        "fastapi",
        "starlette",
        "uvicorn",
        "flask",
        "django",
        "httpx",
        "requests",
        "langsmith",
        "celery",
        "aiohttp",
    )
    for name in names:
        row = next((line for line in section.splitlines() if line.lower().startswith(f"| {name} ")), None)
        assert row is not None, f"no row for {name} in the README's supported-versions table"
        assert re.search(rf"\b{re.escape(floors[name])}\b", row), f"{name}: the README row does not say {floors[name]}"
