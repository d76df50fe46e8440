"""Fixtures for exporter tests: settings without exporters, a known service/project, small traces."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

import tracing_middleware as tm
from tracing_middleware import RunTree

TraceFactory = Callable[..., list[RunTree]]


@pytest.fixture
def configured() -> Iterator[None]:
    """Tracing configured with no exporter, service ``svc-default`` and project ``proj-default``."""
    tm.configure(exporter="none", service_name="svc-default", project_name="proj-default")
    try:
        yield
    finally:
        tm.configure(exporter="none")


def _make_trace(
    name: str = "root", children: int = 2, *, error_in: int | None = None, project_name: str | None = None
) -> list[RunTree]:
    """A finished root with ``children`` finished children (a grandchild under the first); children first."""
    root = RunTree(name, inputs={"q": name}, project_name=project_name)
    runs: list[RunTree] = []
    for i in range(children):
        child = root.create_child(f"{name}.child{i}", "tool", inputs={"i": i})
        if i == 0:
            grandchild = child.create_child(f"{name}.grandchild", "llm")
            grandchild.end(outputs={"text": "hi"})
            runs.append(grandchild)
        child.end(outputs=i, error="ValueError: bad\nTraceback ..." if error_in == i else None)
        runs.append(child)
    root.end(outputs={"done": True})
    runs.append(root)
    return runs


@pytest.fixture
def make_trace() -> TraceFactory:
    """``make_trace(name, children, error_in=None, project_name=None)`` -> runs of one finished trace."""
    return _make_trace
