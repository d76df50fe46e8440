"""``asgi_traced_client`` against real FastAPI and Starlette apps traced by ``TracingMiddleware``."""

from __future__ import annotations

import textwrap

import pytest
from plugin_support import run

pytest.importorskip("fastapi")
pytest.importorskip("starlette.testclient")

pytest_plugins = ["pytester"]

APPS = """
    from fastapi import FastAPI
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from tracing_middleware import get_current_run_tree, trace, traceable
    from tracing_middleware.adapters.fastapi import TracingMiddleware


    @traceable(name="load")
    def load(item_id):
        return {"id": item_id}


    def fastapi_app():
        app = FastAPI()
        # The app under test carries the middleware itself; outbound patching stays off in tests.
        app.add_middleware(TracingMiddleware, instrument_outbound=False)

        @app.get("/items/{item_id}")
        async def read(item_id: int):
            with trace("GET api.internal/x"):
                pass
            return {**load(item_id), "run": get_current_run_tree().id}

        return app


    def starlette_app():
        def hello(request):
            return JSONResponse({"run": get_current_run_tree().id})

        app = Starlette(routes=[Route("/hello/{name}", hello)])
        app.add_middleware(TracingMiddleware, instrument_outbound=False)
        return app
"""

TESTS = """
    import starlette
    from apps import fastapi_app, starlette_app

    from tracing_middleware import RunTree

    # Starlette's own router leaves the matched route in the scope from 1.7 on; before, the run has the method only.
    HELLO = "GET /hello/{name}" if tuple(int(p) for p in starlette.__version__.split(".")[:2]) >= (1, 7) else "GET"


    def test_fastapi_request_continues_the_parent(asgi_traced_client, traces, trace_parent):
        client = asgi_traced_client(fastapi_app())
        body = client.get("/items/3").json()
        request = traces.one("GET /items/{item_id}")
        assert body == {"id": 3, "run": request.id}
        trace_parent.assert_child_of_parent(request)
        assert request.trace_id == trace_parent.run.trace_id
        traces.assert_tree({"GET /items/{item_id}": {"load": {}, "GET api.internal/x": {}}})


    def test_starlette_every_request_carries_the_headers(asgi_traced_client, traces, trace_parent):
        client = asgi_traced_client(starlette_app())
        ids = [client.get(f"/hello/{name}").json()["run"] for name in ("a", "b")]
        assert [run.id for run in trace_parent.children()] == ids
        traces.assert_tree({HELLO: [{}, {}]})


    def test_headers_given_to_the_client_win(asgi_traced_client, traces, trace_parent):
        other = RunTree("other")
        headers = {name.title(): value for name, value in other.to_headers().items()}
        asgi_traced_client(starlette_app(), headers=headers).get("/hello/a")
        assert traces.parent(traces.one(HELLO)) is None
        assert traces.one(HELLO).parent_run_id == other.id


    def test_wrong_tree(asgi_traced_client, traces):
        asgi_traced_client(fastapi_app()).get("/items/3")
        traces.assert_tree({"GET /items/{item_id}": {"load": {}}})
"""


def test_asgi_traced_client_with_fastapi_and_starlette(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(apps=textwrap.dedent(APPS), test_asgi_apps=textwrap.dedent(TESTS))
    result = run(pytester, "-v")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_wrong_tree FAILED*",
            "E*AssertionError: the recorded runs do not have the expected shape "
            "(under 'GET /items/{item_id}': unexpected 'GET api.internal/x')",
            "E*recorded:",
            "E*  GET /items/{item_id}  (child of test-parent)",
            "E*    GET api.internal/x",
            "E*    load",
        ]
    )
