"""The Phoenix tests are opt-in: they run only when selected with ``-m phoenix_server``.

Phoenix takes seconds to start and is a large install, so a plain ``pytest`` leaves these tests out
(deselected, not skipped); ``pytest -p no:phoenix -m phoenix_server tests/otlp/with_phoenix`` runs them.
The marker is not called ``phoenix``: arize-phoenix-client's pytest plugin (``-p no:phoenix`` turns
it off) owns that name and records every test marked with it as a Phoenix experiment run.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "phoenix_server: needs Arize Phoenix (pip install arize-phoenix); opt-in with -m phoenix_server"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "phoenix_server" in (config.getoption("markexpr", "") or ""):
        return
    chosen = [item for item in items if item.get_closest_marker("phoenix_server") is None]
    if len(chosen) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item.get_closest_marker("phoenix_server")])
        items[:] = chosen
