"""End to end with the real langsmith JS SDK (npm), as on the seed page, through one LangSmith stand-in.

A node client (``traceable`` + ``getCurrentRunTree().toHeaders()`` over ``fetch``) calls our FastAPI
service; our client calls a node express server (``RunTree.fromHeaders`` + ``withRunTree``). Both
SDKs send their runs to the stand-in themselves; each direction must give one valid tree there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from ls_procs import langsmith_env, node_server, run_script, uvicorn_app
from standin import StandIn, names

import tracing_middleware as tm
from tracing_middleware.exporters.langsmith import LangSmithExporter

pytestmark = pytest.mark.node


def _tree(standin: StandIn, trace_id: str, wanted: set[str]) -> dict[str, Any]:
    assert standin.wait_for(lambda: wanted <= {r["name"] for r in standin.trace_runs(trace_id) if r.get("end_time")}), (
        f"runs at the stand-in: {[r['name'] for r in standin.trace_runs(trace_id)]}; rejections {standin.rejections}"
    )
    return standin.tree(trace_id)


def test_js_client_calls_our_service(standin: StandIn, js_root: tuple[Path, str], tmp_path: Path) -> None:
    root, node = js_root
    env = langsmith_env(standin.url, "interop-js")
    with uvicorn_app("ls_ours_app:app", env, tmp_path) as ours:
        result = run_script([node, "client.mjs", ours], env, cwd=root)
        assert result["status"] == 200
        client_run = result["client_run"]
        tree = _tree(standin, client_run["trace_id"], {"client", "POST /my-route", "my_application"})
    assert standin.rejections == []
    assert names(tree) == ["client", [["POST /my-route", [["my_application", []]]]]]
    request = tree["children"][0]
    assert request["id"] == result["reply"]["request_run"]
    assert request["parent_run_id"] == client_run["id"]
    assert request["dotted_order"].startswith(client_run["dotted_order"] + ".")
    assert request["session_name"] == "interop-js"
    agents = {str(r["headers"].get("User-Agent", "")).split("/")[0] for r in standin.ingest_requests()}
    assert {"langsmith-js", "langsmith-py"} <= agents  # both SDKs' clients sent: theirs, and ours through langsmith


def test_our_client_calls_js_server(standin: StandIn, js_root: tuple[Path, str], tmp_path: Path) -> None:
    root, node = js_root
    env = langsmith_env(standin.url, "interop-js-server")
    tm.configure(exporter=LangSmithExporter(api_url=standin.url, api_key="x"), project_name="ours-to-js")
    with node_server(root, node, env, tmp_path) as theirs:

        @tm.traceable(name="our_client")
        def call() -> dict[str, Any]:
            run = tm.get_current_run_tree()
            assert run is not None
            headers = {**run.to_headers(), "Content-Type": "text/plain"}
            response = httpx.post(theirs + "/", headers=headers, content="hello from python", trust_env=False)
            assert response.status_code == 200, response.text
            return {"ours": run.id, "trace_id": run.trace_id, "theirs": response.json()}

        result = call()
        assert tm.flush(30)
        tree = _tree(standin, result["trace_id"], {"our_client", "server"})
    assert standin.rejections == []
    assert names(tree) == ["our_client", [["server", []]]]
    server_run = tree["children"][0]
    assert server_run["id"] == result["theirs"]["run_id"]
    assert server_run["parent_run_id"] == result["ours"]
    assert server_run["session_name"] == "ours-to-js"  # the JS SDK took our project from baggage
    assert result["theirs"]["reply"] == 'Hello from the server! Received "hello from python"'
