"""Wire compatibility with the real LangSmith JavaScript SDK (npm ``langsmith``), both directions.

The package is installed once per test session into a temporary directory; the scripts in ``js/`` run
under node there. They read JSON on stdin and print JSON: ``emit_headers.mjs`` makes runs
(``new RunTree``, ``createChild``, ``traceable`` + ``getCurrentRunTree().toHeaders()``) and prints their
headers and fields; ``parse_headers.mjs`` runs ``RunTree.fromHeaders`` on headers we made and creates a
child under each. Node makes no network calls: global ``fetch`` refuses, and the client ``traceable``
posts through records its requests instead of sending them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tracing_middleware import RunTree, inject
from tracing_middleware.core.ids import format_ts
from tracing_middleware.core.propagation.dotted_order import stamp_to_us

pytestmark = pytest.mark.node

SCRIPTS = Path(__file__).parent / "js"
NODE_TIMEOUT_S = 120
NPM_TIMEOUT_S = 600


def _node_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANGSMITH_", "LANGCHAIN_", "NODE_OPTIONS"))}
    env.update(LANGSMITH_TRACING="false", npm_config_update_notifier="false", npm_config_fund="false")
    return env


@pytest.fixture(scope="session")
def js_sdk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with ``langsmith`` from npm installed and the interop scripts beside it."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip(f"node/npm not installed: node={node!r}, npm={npm!r}")
    root = tmp_path_factory.mktemp("langsmith-js")
    (root / "package.json").write_text(json.dumps({"name": "interop", "private": True, "type": "module"}))
    installed = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", "langsmith"],
        cwd=root, env=_node_env(), capture_output=True, text=True, timeout=NPM_TIMEOUT_S, check=False,
    )  # fmt: skip
    if installed.returncode != 0:
        pytest.fail(f"npm install langsmith failed ({installed.returncode}):\n{installed.stderr[-4000:]}")
    for script in SCRIPTS.glob("*.mjs"):  # ESM resolves packages next to the script, so the scripts move in
        shutil.copy(script, root)
    return root


def run_node(root: Path, script: str, payload: Any) -> dict[str, Any]:
    node = shutil.which("node")
    assert node is not None
    done = subprocess.run(
        [node, script], input=json.dumps(payload), cwd=root, env=_node_env(),
        capture_output=True, text=True, timeout=NODE_TIMEOUT_S, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    output: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert output["unexpected_fetches"] == [], "langsmith (JS) tried to reach the network"
    return output


def parse(headers: dict[str, str]) -> RunTree:
    run = RunTree.from_headers(headers)
    assert run is not None, headers
    return run


def assert_matches(ours: RunTree, theirs: dict[str, Any]) -> None:
    """Our run agrees with a run as the JS script described it."""
    assert (ours.id, ours.trace_id, ours.dotted_order) == (theirs["id"], theirs["trace_id"], theirs["dotted_order"])
    assert ours.tags == theirs["tags"]
    assert ours.metadata == theirs["metadata"]
    assert ours.project_name == theirs["project_name"]


TEN_MINUTES_MS = 10 * 60 * 1000
JS_CASES = [
    {
        "name": "plain",
        "tags": ["b", "a", "ünï", "x/y"],
        "metadata": {"s": "é 中文 🎉 '()*!", "f": 1.0, "big": 1e21, "tiny": 1.5e-7, "n": {"a": [1, None, True]}},
        "project_name": "team/ünï project (js)",
    },
    {"name": "grandchild-of-uuid4-root", "uuid4": True, "depth": 2, "tags": ["root"], "project_name": "legacy svc"},
    {"name": "traceable", "kind": "traceable", "tags": ["t"], "metadata": {"m": 2}, "project_name": "svc/中 β"},
    {"name": "future", "start_offset_ms": TEN_MINUTES_MS, "tags": ["ahead"], "project_name": "skewed"},
]


@pytest.fixture(scope="module")
def js_runs(js_sdk: Path) -> dict[str, list[dict[str, Any]]]:
    output = run_node(js_sdk, "emit_headers.mjs", JS_CASES)
    assert len(output["intercepted"]) >= 2  # the traceable runs were posted, to the recorder
    return {case["name"]: runs for case, runs in zip(JS_CASES, output["results"], strict=True)}


def test_js_headers_parse_in_ours(js_runs: dict[str, list[dict[str, Any]]]) -> None:
    described = [run for runs in js_runs.values() for run in runs]
    assert len(described) == 5
    for theirs in described:
        ours = parse(theirs["headers"])
        assert_matches(ours, theirs)
        assert ours.parent_run_id == theirs["parent_run_id"]
    plain = js_runs["plain"][0]
    assert type(parse(plain["headers"]).metadata["f"]) is int  # JSON.stringify writes 1.0 as 1
    assert "%2F" in plain["headers"]["baggage"]  # encodeURIComponent style, unlike Python's quote


def test_js_uuid4_root_and_execution_order_fractions(js_runs: dict[str, list[dict[str, Any]]]) -> None:
    (theirs,) = js_runs["grandchild-of-uuid4-root"]
    ours = parse(theirs["headers"])
    assert ours.trace_id[14] == "4" and ours.id[14] == "7"  # an old-style v4 trace, v7 runs
    segments = theirs["dotted_order"].split(".")
    assert len(segments) == 3
    stamps = [stamp_to_us(segment[:-36]) for segment in segments]
    assert None not in stamps and stamps == sorted(stamps)  # millisecond + 3-digit counter reads as microseconds
    assert ours.start_us == stamps[-1]


def test_traceable_child_headers(js_runs: dict[str, list[dict[str, Any]]]) -> None:
    outer, inner = js_runs["traceable"]
    assert parse(inner["headers"]).parent_run_id == outer["id"]
    assert inner["dotted_order"].startswith(outer["dotted_order"] + ".")
    assert parse(inner["headers"]).project_name == "svc/中 β"


@pytest.mark.parametrize("name", ["plain", "future"])
def test_our_child_of_a_js_parent(name: str, js_runs: dict[str, list[dict[str, Any]]]) -> None:
    theirs = js_runs[name][-1]
    child = parse(theirs["headers"]).create_child("ours", tags=["mine"])
    assert child.dotted_order == f"{theirs['dotted_order']}.{format_ts(child.start_us)}{child.id}"
    assert (child.trace_id, child.parent_run_id) == (theirs["trace_id"], theirs["id"])
    parent_us = stamp_to_us(theirs["dotted_order"].rsplit(".", 1)[-1][:-36])
    assert parent_us is not None and child.start_us >= parent_us  # even with the parent 10 minutes ahead


def test_round_trip_js_ours_js(js_sdk: Path, js_runs: dict[str, list[dict[str, Any]]]) -> None:
    theirs = js_runs["traceable"][-1]
    ours = parse(theirs["headers"]).create_child("ours", tags=["mine"], metadata={"ours": "ü"})
    (back,) = run_node(js_sdk, "parse_headers.mjs", [ours.to_headers()])["results"]
    assert (back["id"], back["trace_id"], back["dotted_order"]) == (ours.id, theirs["trace_id"], ours.dotted_order)
    assert back["dotted_order"].startswith(theirs["dotted_order"] + ".")
    assert back["metadata"] == {**theirs["metadata"], "ours": "ü"}
    assert back["tags"] == [*theirs["tags"], "mine"] and back["project_name"] == theirs["project_name"]
    assert back["child"]["parent_run_id"] == ours.id


OUR_CASES = {
    "unicode": (["b", "a", "ünï", "emoji 🎉"], {"s": "é ü 中文 🎉", "q": "a,b;c=d%20"}, "ünïcödé 项目"),
    "numbers": (["n"], {"f": 1.5, "one": 1.0, "i": 7, "big": 1e21, "tiny": 1.5e-7, "t": True, "none": None}, "a/b"),
    "nested": (["with space", "slash/tag"], {"a": {"b": [1, {"c": [True, None]}], "d": {}}, "e": []}, "my project"),
    "delimiters": (["a=b", "c;d", "100%", "'quote'()*!~"], {"k=v,x;y": "%", "": "empty"}, "a,b;c=d 100% +(x)/y"),
}


def test_our_headers_parse_in_js(js_sdk: Path) -> None:
    sent: list[RunTree] = []
    for tags, metadata, project in OUR_CASES.values():
        root = RunTree("root", tags=tags, metadata=metadata, project_name=project)
        sent += [root, root.create_child("child").create_child("grandchild", tags=["extra"], metadata={"own": 2})]
    results = run_node(js_sdk, "parse_headers.mjs", [run.to_headers() for run in sent])["results"]
    assert len(results) == len(sent)
    for ours, theirs in zip(sent, results, strict=True):
        assert_matches(ours, theirs)
        # The JS child continues our trace; its headers bring it back to us with our run as its parent.
        js_child = theirs["child"]
        assert (js_child["trace_id"], js_child["parent_run_id"]) == (ours.trace_id, ours.id)
        assert js_child["dotted_order"].startswith(ours.dotted_order + ".")
        back = parse(js_child["headers"])
        assert (back.id, back.parent_run_id, back.trace_id) == (js_child["id"], ours.id, ours.trace_id)
        assert back.metadata == {**ours.metadata, "js": True} and back.project_name == ours.project_name


def test_hand_built_dotted_orders_and_number_forms_parse_in_js(js_sdk: Path) -> None:
    trace_id, run_id = "d977d60d-8c2b-40c1-b089-8d6b3914ffd5", "01a2139d-5066-7000-8000-01cae9d37b6a"
    headers = [
        {"langsmith-trace": f"20240229T2359591Z{trace_id}.20240301T000000{digits}Z{run_id}",
         "baggage": f"langsmith-metadata=%7B%22n%22%3A{number}%7D"}
        for digits, number in [("12", "1e21"), ("1234", "1e%2B21"), ("123456", "1.0"), ("5", "1")]
    ]  # fmt: skip
    results = run_node(js_sdk, "parse_headers.mjs", headers)["results"]
    for sent, theirs in zip(headers, results, strict=True):
        ours = parse(sent)
        assert (ours.id, ours.trace_id, ours.dotted_order) == (theirs["id"], theirs["trace_id"], theirs["dotted_order"])
        assert ours.metadata == theirs["metadata"] and ours.parent_run_id == trace_id


def test_injected_headers_with_foreign_baggage_parse_in_js(js_sdk: Path) -> None:
    run = RunTree("r", tags=["t"], metadata={"k": "ü"}, project_name="p/q")
    carrier = {"baggage": "vendor=1;prop=2,other=x%20y,bare"}
    inject(carrier, run, w3c=False)
    (theirs,) = run_node(js_sdk, "parse_headers.mjs", [carrier])["results"]
    assert_matches(run, theirs)


def test_malformed_foreign_member_does_not_break_js(js_sdk: Path) -> None:
    run = RunTree("r", tags=["t"], project_name="p")
    carrier = {"baggage": "vendor=%zz"}
    inject(carrier, run, w3c=False)
    (theirs,) = run_node(js_sdk, "parse_headers.mjs", [carrier])["results"]
    assert "error" not in theirs, theirs
    assert_matches(run, theirs)
