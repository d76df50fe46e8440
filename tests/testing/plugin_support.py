"""How the tests here start test runs of their own with the plugin loaded.

The runs load no plugin from entry points (``PYTEST_DISABLE_PLUGIN_AUTOLOAD``, set in ``conftest.py``):
other plugins installed beside this package stay out of them, and naming our plugin with ``-p`` then
cannot register it a second time once its ``pytest11`` entry point is installed.
"""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

MODULE = "tracing_middleware.testing.plugin"
PLUGIN_ARGS = ("-p", MODULE)
# The name the package's pytest11 entry point gives the plugin, as installed (or as it is to be declared).
ENTRY_POINT = next((ep.name for ep in entry_points(group="pytest11") if ep.value == MODULE), "tracing_middleware")

# The runs are as strict as this project's own configuration: any warning is an error.
STRICT_INI = "[pytest]\nfilterwarnings = error\naddopts = --strict-markers -p no:cacheprovider\n"


def run(pytester: pytest.Pytester, *args: str, subprocess: bool = False) -> pytest.RunResult:
    """Run pytest on the files made in ``pytester``, with the plugin and warnings as errors."""
    pytester.makeini(STRICT_INI)
    if subprocess:
        return pytester.runpytest_subprocess(*PLUGIN_ARGS, *args)
    return pytester.runpytest(*PLUGIN_ARGS, *args)
