"""End to end with the real langsmith Python SDK: its services and ours send to one LangSmith stand-in.

Every process is real and local: uvicorn services, the seed page's client script, the stand-in. Each
direction must give one valid tree at the stand-in: one trace id, the callee's run under the caller's
run, and no rejected request.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from ls_procs import langsmith_env, run_script, uvicorn_app
from standin import StandIn, names

import tracing_middleware as tm
from tracing_middleware.exporters.langsmith import LangSmithExporter


def _time(run: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(run["start_time"]).replace("Z", "+00:00"))


def _wait_names(standin: StandIn, trace_id: str, wanted: set[str]) -> dict[str, Any]:
    assert standin.wait_for(lambda: wanted <= {r["name"] for r in standin.trace_runs(trace_id)}), (
        f"runs of {trace_id} at the stand-in: {[r['name'] for r in standin.trace_runs(trace_id)]}; "
        f"rejections: {standin.rejections}"
    )
    assert standin.wait_for(lambda: all(r.get("end_time") for r in standin.trace_runs(trace_id)))
    return standin.tree(trace_id)


def test_langsmith_client_calls_our_service(standin: StandIn, tmp_path: Path) -> None:
    env = langsmith_env(standin.url, "interop-py")
    with uvicorn_app("ls_ours_app:app", env, tmp_path) as ours:
        result = run_script([sys.executable, "ls_seed_client.py", ours], env)
        assert result["status"] == 200
        client_run = result["client_run"]
        tree = _wait_names(standin, client_run["trace_id"], {"my_client_function", "POST /my-route", "my_application"})
    assert standin.rejections == []
    assert names(tree) == ["my_client_function", [["POST /my-route", [["my_application", []]]]]]
    request = tree["children"][0]
    assert request["id"] == result["reply"]["request_run"]
    assert request["parent_run_id"] == client_run["id"]
    assert request["dotted_order"].startswith(client_run["dotted_order"] + ".")
    assert request["session_name"] == "interop-py"  # the caller's project came over in baggage
    assert {r["trace_id"] for r in standin.trace_runs(client_run["trace_id"])} == {client_run["trace_id"]}
    assert _time(request) >= _time(tree)


def test_upstream_clock_five_minutes_ahead(standin: StandIn, tmp_path: Path) -> None:
    env = langsmith_env(standin.url, "interop-skew")
    with uvicorn_app("ls_ours_app:app", env, tmp_path) as ours:
        result = run_script([sys.executable, "ls_seed_client.py", ours, "--skew", "300"], env)
        client_run = result["client_run"]
        tree = _wait_names(standin, client_run["trace_id"], {"skewed_client", "POST /my-route", "my_application"})
    assert standin.rejections == []
    assert names(tree) == ["skewed_client", [["POST /my-route", [["my_application", []]]]]]
    parent_start, request = _time(tree), tree["children"][0]
    assert (parent_start - datetime.now(parent_start.tzinfo)).total_seconds() > 200  # the caller really was ahead
    assert _time(request) >= parent_start
    assert _time(request["children"][0]) >= _time(request)


@pytest.mark.parametrize("propagation", ["to_headers", "instrument"])
def test_our_client_calls_langsmith_service(standin: StandIn, tmp_path: Path, propagation: str) -> None:
    env = langsmith_env(standin.url, "interop-py-server")
    tm.configure(exporter=LangSmithExporter(api_url=standin.url, api_key="x"), project_name="ours-client")
    with uvicorn_app("ls_seed_server:app", env, tmp_path) as theirs:

        @tm.traceable(name="our_client")
        def call() -> dict[str, Any]:
            run = tm.get_current_run_tree()
            assert run is not None
            if propagation == "to_headers":
                response = httpx.post(theirs + "/my-route", headers=run.to_headers(), trust_env=False)
            else:
                from tracing_middleware.transports.instrument import instrument, uninstrument

                instrument()
                try:
                    response = httpx.post(theirs + "/my-route", trust_env=False)
                finally:
                    uninstrument()
            assert response.status_code == 200
            return {"ours": run.id, "trace_id": run.trace_id, "theirs": response.json()}

        result = call()
        assert tm.flush(30)
        wanted = {"our_client", "my_application"}
        tree = _wait_names(standin, result["trace_id"], wanted)
    assert standin.rejections == []
    theirs_run = standin.runs[result["theirs"]["run_id"]]
    assert theirs_run["trace_id"] == result["trace_id"]
    if propagation == "to_headers":
        assert names(tree) == ["our_client", [["my_application", []]]]
        assert theirs_run["parent_run_id"] == result["ours"]
    else:  # the patched client made a client run of the request; their run hangs under it
        assert names(tree) == ["our_client", [[tree["children"][0]["name"], [["my_application", []]]]]]
        assert theirs_run["parent_run_id"] == tree["children"][0]["id"]
    assert tree["session_name"] == "ours-client"
    assert theirs_run["session_name"] == "ours-client"  # langsmith took our project from baggage
