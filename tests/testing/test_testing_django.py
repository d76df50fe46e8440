"""``django_traced_client`` and ``django_traced_async_client`` against a real Django project using our middleware.

Django's settings can be configured once per process, so this test run gets a process of its own.
"""

from __future__ import annotations

import textwrap

import pytest
from plugin_support import run

pytest.importorskip("django")

pytest_plugins = ["pytester"]

CONFTEST = """
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="not-a-secret",
        ALLOWED_HOSTS=["testserver"],
        ROOT_URLCONF="items_urls",
        MIDDLEWARE=["tracing_middleware.adapters.django.TracingMiddleware"],
        TRACING_MIDDLEWARE={"instrument_outbound": False},
        INSTALLED_APPS=[],
        USE_TZ=True,
    )
    django.setup()
"""

URLS = """
    from django.http import JsonResponse
    from django.urls import path

    from tracing_middleware import get_current_run_tree, trace, traceable


    @traceable(name="load")
    def load(item_id):
        return {"id": item_id}


    def read(request, item_id):
        with trace("GET api.internal/x"):
            pass
        return JsonResponse({**load(item_id), "run": get_current_run_tree().id})


    async def aread(request, item_id):
        return JsonResponse({**load(item_id), "run": get_current_run_tree().id})


    urlpatterns = [path("items/<int:item_id>", read), path("async/<int:item_id>", aread)]
"""

TESTS = """
    import asyncio

    from tracing_middleware import RunTree


    def test_request_continues_the_parent(django_traced_client, traces, trace_parent):
        body = django_traced_client.get("/items/3").json()
        request = traces.one("GET items/<int:item_id>")
        assert body == {"id": 3, "run": request.id}
        trace_parent.assert_child_of_parent(request)
        traces.assert_tree({"GET items/<int:item_id>": {"load": {}, "GET api.internal/x": {}}})


    def test_async_client(django_traced_async_client, traces, trace_parent):
        response = asyncio.run(django_traced_async_client.get("/async/4"))
        request = traces.one("GET async/<int:item_id>")
        assert response.json() == {"id": 4, "run": request.id}
        trace_parent.assert_child_of_parent(request)
        traces.assert_tree({"GET async/<int:item_id>": {"load": {}}})


    def test_a_request_with_its_own_headers_wins(django_traced_client, django_traced_async_client, traces):
        other = RunTree("other")
        django_traced_client.get("/items/1", headers=other.to_headers())
        asyncio.run(django_traced_async_client.get("/async/1", headers=other.to_headers()))
        assert {run.name: run.parent_run_id for run in traces.roots()} == {
            "GET items/<int:item_id>": other.id,
            "GET async/<int:item_id>": other.id,
        }


    def test_wrong_tree(django_traced_client, traces):
        django_traced_client.get("/items/3")
        traces.assert_tree({"GET items/<int:item_id>": {"load": {"GET api.internal/x": {}}}})
"""


def test_django_traced_clients(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(textwrap.dedent(CONFTEST))
    pytester.makepyfile(items_urls=textwrap.dedent(URLS), test_django_app=textwrap.dedent(TESTS))
    result = run(pytester, "-v", subprocess=True)
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_wrong_tree FAILED*",
            "E*AssertionError: the recorded runs do not have the expected shape "
            "(under 'GET items/<int:item_id>': unexpected 'GET api.internal/x')",
            "E*expected:",
            "E*  GET items/<int:item_id>",
            "E*    load",
            "E*      GET api.internal/x",
            "E*recorded:",
            "E*  GET items/<int:item_id>  (child of test-parent)",
            "E*    GET api.internal/x",
            "E*    load",
        ]
    )
