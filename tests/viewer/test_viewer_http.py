"""The viewer over HTTP: who is let in (Host, token, cookie, auth hook), the JSON API's shapes, bad input."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
from collections.abc import Iterator
from importlib import resources
from typing import Any

import pytest
from viewer_support import ROOT, Served, build_sample_store, child, root, serve, store


@pytest.fixture(scope="module")
def module_store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build_sample_store(tmp_path_factory.mktemp("viewer-http"))


@pytest.fixture(scope="module")
def served(module_store: dict[str, Any]) -> Iterator[Served]:
    with serve(module_store["db"]) as running:
        yield running


@pytest.mark.parametrize("path", ["/", "/api/traces", "/api/services", "/static/list.js"])
def test_a_foreign_host_is_refused_even_with_the_token(served: Served, path: str) -> None:
    for host in ("evil.example", f"evil.example:{served.port}", "127.0.0.1.evil.example"):
        response = served.get(path, headers={"host": host, "authorization": f"Bearer {served.token}"})
        assert response.status_code == 403, host
        assert "Host" in response.text


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST"])
def test_the_listening_address_and_localhost_are_served(served: Served, host: str) -> None:
    headers = {"host": host.format(port=served.port), "authorization": f"Bearer {served.token}"}
    assert served.get("/api/traces", headers=headers).status_code == 200


@pytest.mark.parametrize("path", ["/", "/api/traces", "/api/options", "/services", "/static/viewer.css"])
def test_without_the_token_everything_is_refused(served: Served, path: str) -> None:
    assert served.get(path).status_code == 403
    assert served.get(path, headers={"authorization": "Bearer wrong-token-wrong-token"}).status_code == 403
    assert served.get(path, cookies={f"tm_viewer_{served.port}": "wrong"}).status_code == 403
    assert served.get(path + "?token=wrong").status_code == 403


def test_the_token_in_the_url_becomes_a_cookie_and_leaves_the_address(served: Served) -> None:
    assert served.token and len(served.token) >= 24
    assert served.url == f"http://127.0.0.1:{served.port}/?token={served.token}"
    first = served.get(f"/?q=x&token={served.token}")
    assert first.status_code == 303
    assert first.headers["location"] == "/?q=x"
    cookie = first.headers["set-cookie"]
    assert f"tm_viewer_{served.port}={served.token}" in cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    sneaky = served.get(f"//evil.example/x?token={served.token}")
    assert sneaky.status_code == 303 and sneaky.headers["location"] == "/evil.example/x"
    again = served.get("/api/traces", cookies={f"tm_viewer_{served.port}": served.token})
    assert again.status_code == 200 and again.json()["traces"]
    assert served.get(f"/api/traces?token={served.token}").status_code == 200  # scripts may pass it too


def test_two_servers_have_different_tokens(module_store: dict[str, Any], served: Served) -> None:
    with serve(module_store["db"]) as other:
        assert other.token != served.token
        assert other.get("/", headers={"authorization": f"Bearer {served.token}"}).status_code == 403


def test_no_token_serves_openly_and_warns(module_store: dict[str, Any]) -> None:
    with serve(module_store["db"], "--no-token") as running:
        assert running.token is None and "token" not in running.url
        assert running.get("/api/traces").status_code == 200
        assert running.get("/", headers={"host": "evil.example"}).status_code == 403  # the Host check stays


def test_no_token_warning_is_printed(module_store: dict[str, Any]) -> None:
    port = _port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tracing_middleware", "--db", str(module_store["db"]), "serve", "--no-token",
         "--host", "0.0.0.0", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        assert process.stdout is not None and process.stderr is not None
        line = "-"
        while line and "open:" not in line:
            line = process.stdout.readline()
        assert line, "serve exited before printing its URL"
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)
    assert "listening on 0.0.0.0" in err and "read every trace" in err


def _port() -> int:
    from netutil import free_port

    return free_port()


def test_every_response_carries_the_csp_and_no_inline_script(served: Served) -> None:
    for path in ("/", "/services", "/api/traces", "/static/trace.js", "/nope"):
        response = served.authed(path)
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
    page = served.authed("/").text
    assert "<script>" not in page and "onclick" not in page and "style=" not in page


def test_the_trace_api_has_the_shape_of_show_json(served: Served, module_store: dict[str, Any]) -> None:
    trace_id = module_store["checkout"].trace_id
    api = served.authed(f"/api/traces/{trace_id}").json()
    shown = subprocess.run(
        [sys.executable, "-m", "tracing_middleware", "--db", str(module_store["db"]), "show", "--json", trace_id],
        capture_output=True, text=True, check=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert api == json.loads(shown.stdout)
    run = served.authed(f"/api/runs/{module_store['fail'].id}").json()
    assert {k: v for k, v in run.items() if k not in ("duration_us", "depth")} == next(
        r for r in api if r["id"] == module_store["fail"].id
    )
    assert run["duration_us"] == 40_000


def test_the_list_api_pages_and_filters(served: Served, module_store: dict[str, Any]) -> None:
    first = served.authed("/api/traces?limit=2").json()
    assert len(first["traces"]) == 2 and first["next"]
    second = served.authed(f"/api/traces?limit=2&cursor={first['next']}").json()
    assert len(second["traces"]) == 2 and second["next"] is None
    ids = [t["trace_id"] for t in first["traces"] + second["traces"]]
    assert len(set(ids)) == 4
    errors = served.authed("/api/traces?errors=1&service=shop-api").json()["traces"]
    assert [t["trace_id"] for t in errors] == [module_store["checkout"].trace_id]
    assert errors[0]["services"] == ["payments", "shop-api"] and errors[0]["error_count"] == 1


def test_filtered_pages_hold_every_match_once_newest_first(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "filtered.sqlite3"
    wanted = []
    for i in range(12):
        top = root(f"t{i}", i * 100, i * 100 + 50)
        kid = child(top, "charge" if i % 2 else "other", i * 100 + 10, i * 100 + 90 if i == 5 else i * 100 + 20)
        store(db, [top], service="front")
        store(db, [kid], service="payments" if i % 2 else "front")  # odd traces reach payments
        if i % 2:
            wanted.append(top.trace_id)
    with serve(db) as running:
        seen, cursor = [], ""
        for _ in range(5):
            page = running.authed(f"/api/traces?service=payments&limit=2{cursor}").json()
            seen += [t["trace_id"] for t in page["traces"]]
            if not page["next"]:
                break
            cursor = f"&cursor={page['next']}"
        assert seen == wanted[::-1]
        named = running.authed("/api/traces?q=CHARGE&since=1d&limit=4").json()
        assert [t["trace_id"] for t in named["traces"]] == wanted[::-1][:4] and named["next"]


def test_the_services_api_counts_calls_in_the_window(served: Served) -> None:
    calls = served.authed("/api/services?since=1d").json()["calls"]
    edge = next(c for c in calls if c["caller"] == "shop-api" and c["callee"] == "payments")
    assert edge == {"caller": "shop-api", "callee": "payments", "count": 1, "errors": 0, "error_rate": 0.0,
                    "p50_us": 150_000, "p95_us": 150_000}  # fmt: skip
    assert served.authed("/api/services?since=1m").json()["calls"] == []  # the sample is an hour old
    assert served.authed("/api/services?since=soon").status_code == 400


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=abc", "limit=501", "cursor=nonsense", "since=yesterday-ish", "meta=novalue", "q=" + "x" * 2000],
)
def test_bad_parameters_answer_400_with_a_reason(served: Served, query: str) -> None:
    response = served.authed(f"/api/traces?{query}")
    assert response.status_code == 400
    assert response.json()["error"]


@pytest.mark.parametrize(
    "path",
    ["/api/traces/nope", "/api/traces/01a213a9-9ffb-779f-8c74-6d85bd7df589", "/api/runs/x'; DROP TABLE runs;--",
     "/api/traces/01a213a9-9ffb-779f-8c74-6d85bd7df589/waterfall", "/api/nothing", "/traces/%3Cscript%3E"],
)  # fmt: skip
def test_unknown_ids_answer_404_without_a_traceback(served: Served, path: str) -> None:
    response = served.authed(path)
    assert response.status_code == 404
    assert "Traceback" not in response.text and "<script>" not in response.text


def test_a_store_not_written_yet_is_an_empty_list(tmp_path: pathlib.Path) -> None:
    with serve(tmp_path / "later.sqlite3") as running:
        body = running.authed("/api/traces").json()
        assert body["traces"] == [] and "no trace store" in body["notice"]
        store(tmp_path / "later.sqlite3", [root("now there is one", 0, 1)])
        assert len(running.authed("/api/traces").json()["traces"]) == 1


def test_the_mountable_app_takes_an_auth_hook(module_store: dict[str, Any]) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount
    from starlette.testclient import TestClient

    from tracing_middleware.viewer import create_app

    async def staff_only(request: Any) -> bool:
        return request.headers.get("x-user") == "admin"

    outer = Starlette(routes=[Mount("/traces-ui", app=create_app(module_store["db"], auth=staff_only))])
    with TestClient(outer) as client:
        assert client.get("/traces-ui/api/traces").status_code == 403
        ok = client.get("/traces-ui/api/traces", headers={"x-user": "admin"})
        assert ok.status_code == 200 and len(ok.json()["traces"]) == 4
        page = client.get("/traces-ui/", headers={"x-user": "admin"}).text
        assert 'data-base="/traces-ui"' in page and 'src="/traces-ui/static/list.js"' in page


def test_create_app_rejects_bad_options() -> None:
    from tracing_middleware.viewer import create_app

    with pytest.raises(TypeError, match="db must be"):
        create_app(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="poll_ms"):
        create_app(poll_ms=5)
    with pytest.raises(TypeError, match="auth must be a callable"):
        create_app(auth="yes")  # type: ignore[arg-type]


def test_the_static_files_ship_inside_the_package() -> None:
    folder = resources.files("tracing_middleware.viewer") / "static"
    names = {entry.name for entry in folder.iterdir()}
    assert {"common.js", "list.js", "trace.js", "services.js", "viewer.css"} <= names
    for name in names:
        text = (folder / name).read_text()
        assert "http://" not in text.replace("http://www.w3.org/2000/svg", "") and "https://" not in text  # no CDN


def test_serve_usage_errors_exit_2() -> None:
    done = subprocess.run([sys.executable, "-m", "tracing_middleware", "serve", "--port", "70000"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)  # fmt: skip
    assert done.returncode == 2 and "port" in done.stderr


def test_importing_the_command_loads_no_web_framework() -> None:
    code = "import sys, tracing_middleware.cli, tracing_middleware.viewer.command; print('starlette' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "False"
