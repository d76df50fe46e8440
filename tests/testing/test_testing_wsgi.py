"""``wsgi_traced_client`` against a real Flask app (``instrument_app``) and a bare ``WSGITracingMiddleware`` app."""

from __future__ import annotations

import textwrap

import pytest
from plugin_support import run

pytest.importorskip("flask")
pytest.importorskip("werkzeug.test")

pytest_plugins = ["pytester"]

APPS = """
    from flask import Flask, jsonify

    from tracing_middleware import get_current_run_tree, trace, traceable
    from tracing_middleware.adapters.flask import instrument_app
    from tracing_middleware.middleware.wsgi import WSGITracingMiddleware


    @traceable(name="load")
    def load(item_id):
        return {"id": item_id}


    def flask_app():
        app = Flask("items")

        @app.get("/items/<int:item_id>")
        def read(item_id):
            with trace("GET api.internal/x"):
                pass
            return jsonify({**load(item_id), "run": get_current_run_tree().id})

        return instrument_app(app, instrument_outbound=False)


    def plain(environ, start_response):
        body = get_current_run_tree().parent_run_id.encode()  # the request run's parent
        with trace("render"):
            pass
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body]


    def wsgi_app():
        return WSGITracingMiddleware(plain, instrument_outbound=False)
"""

TESTS = """
    from apps import flask_app, wsgi_app

    from tracing_middleware import RunTree


    def test_flask_request_continues_the_parent(wsgi_traced_client, traces, trace_parent):
        client = wsgi_traced_client(flask_app())
        body = client.get("/items/3").get_json()
        request = traces.one("GET /items/<int:item_id>")
        assert body == {"id": 3, "run": request.id}
        trace_parent.assert_child_of_parent(request)
        traces.assert_tree({"GET /items/<int:item_id>": {"load": {}, "GET api.internal/x": {}}})


    def test_flask_client_keeps_its_own_defaults(wsgi_traced_client, trace_parent):
        client = wsgi_traced_client(flask_app())
        assert client.environ_base["REMOTE_ADDR"] == "127.0.0.1"
        assert client.environ_base["HTTP_LANGSMITH_TRACE"] == trace_parent.run.dotted_order


    def test_any_wsgi_app(wsgi_traced_client, traces, trace_parent):
        client = wsgi_traced_client(wsgi_app())
        responses = [client.get("/a"), client.get("/b")]
        requests = trace_parent.children()
        assert [r.get_data(as_text=True) for r in responses] == [trace_parent.run.id] * 2
        assert [r.inputs["path"] for r in requests] == ["/a", "/b"]
        traces.assert_tree({"GET": [{"render": {}}, {"render": {}}]})


    def test_a_request_with_its_own_headers_wins(wsgi_traced_client, traces, trace_parent):
        other = RunTree("other")
        wsgi_traced_client(wsgi_app()).get("/a", headers=other.to_headers())
        assert traces.one("GET").parent_run_id == other.id
        wsgi_traced_client(flask_app()).get("/items/1", headers=other.to_headers())
        assert traces.one("GET /items/<int:item_id>").parent_run_id == other.id


    def test_not_an_app(wsgi_traced_client):
        wsgi_traced_client(object())


    def test_wrong_tree(wsgi_traced_client, traces):
        wsgi_traced_client(flask_app()).get("/items/3")
        traces.assert_tree({"GET /items/{item_id}": {"load": {}}})
"""


def test_wsgi_traced_client_with_flask_and_a_bare_wsgi_app(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(apps=textwrap.dedent(APPS), test_wsgi_apps=textwrap.dedent(TESTS))
    result = run(pytester, "-v")
    result.assert_outcomes(passed=4, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*test_not_an_app FAILED*",
            "*test_wrong_tree FAILED*",
            "E*TypeError: wsgi_traced_client takes a WSGI application (a callable); got object",
            "E*AssertionError: the recorded runs do not have the expected shape "
            "(at the top: missing 'GET /items/{item_id}'; unexpected 'GET /items/<int:item_id>')",
            "E*expected:",
            "E*  GET /items/{item_id}",
            "E*    load",
            "E*recorded:",
            "E*  GET /items/<int:item_id>  (child of test-parent)",
            "E*    GET api.internal/x",
            "E*    load",
        ]
    )
