"""The stand-in itself refuses what LangSmith's backend refuses, so a passing interop test means something."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from langsmith import Client
from standin import StandIn

from tracing_middleware import RunTree
from tracing_middleware.core.ids import format_ts


def _pair() -> tuple[dict[str, Any], dict[str, Any]]:
    parent, child = RunTree("parent"), None
    child = parent.create_child("child")
    return parent.to_dict(), child.to_dict()


def _post(standin: StandIn, runs: list[dict[str, Any]], key: str | None = "k") -> httpx.Response:
    headers = {"x-api-key": key} if key else {}
    return httpx.post(standin.url + "/runs/batch", json={"post": runs}, headers=headers, trust_env=False)


def test_info_has_a_complete_batch_ingest_config(standin: StandIn) -> None:
    info = Client(api_url=standin.url, api_key="k", auto_batch_tracing=False).info
    config = info.batch_ingest_config or {}
    assert config["use_multipart_endpoint"] is True and config["size_limit_bytes"] == 20971520
    assert {"scale_up_qsize_trigger", "scale_up_nthreads_limit", "scale_down_nempty_trigger", "size_limit"} <= set(
        config
    )


def test_a_valid_tree_is_stored(standin: StandIn) -> None:
    parent, child = _pair()
    assert _post(standin, [parent, child]).status_code == 202
    assert standin.rejections == []
    assert standin.tree(parent["trace_id"])["children"][0]["id"] == child["id"]


def _break_single_segment(parent: dict[str, Any], child: dict[str, Any]) -> None:
    child["dotted_order"] = child["dotted_order"].split(".")[-1]


def _break_trace_id(parent: dict[str, Any], child: dict[str, Any]) -> None:
    child["trace_id"] = str(uuid.uuid4())


def _break_time(parent: dict[str, Any], child: dict[str, Any]) -> None:
    first, _ = child["dotted_order"].split(".")
    stamp = format_ts(int(RunTree("x").start_us) - 60_000_000)  # a minute before the parent
    child["dotted_order"] = f"{first}.{stamp}{child['id']}"


def _break_id(parent: dict[str, Any], child: dict[str, Any]) -> None:
    parent["id"] = "not-a-uuid"


def _break_parent(parent: dict[str, Any], child: dict[str, Any]) -> None:
    child["parent_run_id"] = str(uuid.uuid4())


@pytest.mark.parametrize(
    ("breaks", "reason"),
    [
        (_break_single_segment, "at least two segments"),
        (_break_trace_id, "is not the first segment"),
        (_break_time, "earlier than parent"),
        (_break_id, "not a UUID"),
        (_break_parent, "is not the segment before"),
    ],
)
def test_what_the_backend_refuses_is_refused(standin: StandIn, breaks: Any, reason: str) -> None:
    parent, child = _pair()
    breaks(parent, child)
    response = _post(standin, [parent, child])
    assert response.status_code == 422
    assert standin.runs == {}  # refused whole
    assert len(standin.rejections) == 1 and reason in standin.rejections[0]["reason"]


def test_missing_api_key_is_refused(standin: StandIn) -> None:
    assert _post(standin, list(_pair()), key=None).status_code == 401
    assert standin.rejections[0]["status"] == 401


def test_multipart_from_the_real_client_is_merged_by_id(standin: StandIn) -> None:
    client = Client(api_url=standin.url, api_key="k", auto_batch_tracing=False)
    run = RunTree("merged")
    post = {**run.to_dict(), "end_time": None}
    client.multipart_ingest(create=[post])
    run.end(outputs={"done": True})
    client.multipart_ingest(update=[run.to_dict()])
    stored = standin.runs[run.id]
    assert stored["name"] == "merged" and stored["outputs"] == {"done": True} and stored["end_time"]
    assert standin.rejections == []
