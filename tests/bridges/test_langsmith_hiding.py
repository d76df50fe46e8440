"""langsmith's hide_inputs / hide_outputs hold for the langsmith runs we record, as for those it sends.

langsmith's tracing stays off here: the runs reach our exporters only, through the bridge's stand-in
client, which is what would otherwise bypass the user's client and its hiding settings.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

import pytest

langsmith = pytest.importorskip("langsmith")

from langsmith import run_trees  # noqa: E402
from langsmith import utils as ls_utils  # noqa: E402

import tracing_middleware as tm  # noqa: E402
from tracing_middleware import InMemoryExporter, RunTree  # noqa: E402


@pytest.fixture(autouse=True)
def clean_langsmith(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No LangSmith environment, no configured or cached client: each test sets what it needs."""
    for name in [n for n in os.environ if n.startswith(("LANGSMITH_", "LANGCHAIN_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setattr(run_trees, "_CLIENT", None)
    ls_utils.get_env_var.cache_clear()
    langsmith.configure(client=None)
    yield
    langsmith.configure(client=None)
    ls_utils.get_env_var.cache_clear()


def client(**settings: Any) -> Any:
    # Never contacted: LangSmith tracing is off, so nothing is sent to this address.
    return langsmith.Client(api_url="http://127.0.0.1:9", api_key="lsv2-test-key", info={}, **settings)


@langsmith.traceable(run_type="tool")
def lookup(sku: str) -> dict[str, Any]:
    return {"sku": sku, "price": 12}


def recorded(memory: InMemoryExporter) -> tuple[RunTree, RunTree]:
    by_name = {run.name: run for run in memory.runs}
    return by_name["request"], by_name["lookup"]


def test_the_users_client_hides_inputs_and_outputs(memory: InMemoryExporter) -> None:
    hiding = client(hide_inputs=lambda inputs: {"keys": sorted(inputs)}, hide_outputs=True)
    with langsmith.tracing_context(client=hiding), tm.trace("request", inputs={"q": "kept"}):
        assert lookup("secret-sku") == {"sku": "secret-sku", "price": 12}
    request, tool = recorded(memory)
    assert tool.inputs == {"keys": ["sku"]}
    assert not tool.outputs  # hidden: nothing of {"sku": ..., "price": ...} is kept
    assert "secret-sku" not in repr((tool.inputs, tool.outputs, tool.metadata, tool.events))
    assert request.inputs == {"q": "kept"}  # our own runs are not langsmith's to hide


def test_a_client_configured_globally_is_used(memory: InMemoryExporter) -> None:
    langsmith.configure(client=client(hide_outputs=lambda outputs: {"price": outputs.get("price")}))
    with tm.trace("request"):
        lookup("A1")
    _, tool = recorded(memory)
    assert tool.inputs == {"sku": "A1"} and tool.outputs == {"price": 12}


@pytest.mark.parametrize(("variable", "inputs", "outputs"), [
    ("LANGSMITH_HIDE_INPUTS", False, True),
    ("LANGSMITH_HIDE_OUTPUTS", True, False),
])  # fmt: skip
def test_the_environment_hides_without_a_client(
    memory: InMemoryExporter, monkeypatch: pytest.MonkeyPatch, variable: str, inputs: bool, outputs: bool
) -> None:
    monkeypatch.setenv(variable, "true")
    ls_utils.get_env_var.cache_clear()
    with tm.trace("request"):
        lookup("A1")
    _, tool = recorded(memory)
    assert bool(tool.inputs) is inputs and bool(tool.outputs) is outputs
    assert run_trees._CLIENT is None  # no client was made to find out


def test_nothing_is_hidden_unless_asked(memory: InMemoryExporter) -> None:
    with tm.trace("request"):
        lookup("A1")
    _, tool = recorded(memory)
    assert tool.inputs == {"sku": "A1"} and tool.outputs == {"sku": "A1", "price": 12}


def test_a_failing_hide_function_hides_everything(memory: InMemoryExporter, caplog: pytest.LogCaptureFixture) -> None:
    def broken(inputs: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("redactor down")

    with (
        caplog.at_level(logging.WARNING, logger="tracing_middleware.bridges"),
        langsmith.tracing_context(client=client(hide_inputs=broken)),
        tm.trace("request"),
    ):
        assert lookup("secret-sku")["price"] == 12  # the user's call is unaffected
    _, tool = recorded(memory)
    assert not tool.inputs and tool.outputs == {"sku": "secret-sku", "price": 12}
    assert any("hiding failed" in record.getMessage() for record in caplog.records)
