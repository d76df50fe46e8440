"""A one-module Django project for the tests; served as ``django_served:wsgi`` (gunicorn) or ``:asgi`` (uvicorn)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        ALLOWED_HOSTS=["*"],
        SECRET_KEY="tests-only",
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[],
        DATABASES={},
        MIDDLEWARE=["tracing_middleware.adapters.django.TracingMiddleware"],
        TRACING_MIDDLEWARE={"instrument_outbound": False},
        LOGGING_CONFIG=None,
    )

import django

django.setup()

from django.core.asgi import get_asgi_application  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse  # noqa: E402
from django.urls import path  # noqa: E402
from serving import configure_from_env, whoami  # noqa: E402

from tracing_middleware import RunTree, trace, traceable, tracing_context  # noqa: E402

LEAKED = RunTree("leaked-parent")


@traceable
def my_application(item_id: int) -> dict[str, Any]:
    return {"item_id": item_id, **whoami()}


def item(request: HttpRequest, item_id: int) -> HttpResponse:
    report = whoami()
    if request.GET.get("leak"):
        # A handler that enters a context and never leaves it: the next request on this thread must not see it.
        tracing_context(parent=LEAKED).__enter__()
    return JsonResponse(report)


async def async_item(request: HttpRequest, item_id: int) -> HttpResponse:
    await asyncio.sleep(0)
    return JsonResponse(whoami())


def my_route(request: HttpRequest) -> HttpResponse:
    return JsonResponse(my_application(7))


def stream(request: HttpRequest) -> HttpResponse:
    def chunks() -> Iterator[str]:
        for index in range(3):
            with trace(f"chunk-{index}"):
                chunk = json.dumps(whoami()) + "\n"
            yield chunk

    return StreamingHttpResponse(chunks(), content_type="text/plain")


def async_stream(request: HttpRequest) -> HttpResponse:
    async def chunks() -> AsyncIterator[str]:
        for index in range(3):
            async with trace(f"chunk-{index}"):
                chunk = json.dumps(whoami()) + "\n"
            yield chunk

    return StreamingHttpResponse(chunks(), content_type="text/plain")


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("view failed")


def gone(request: HttpRequest) -> HttpResponse:
    return HttpResponse("down", status=503)


urlpatterns = [
    path("items/<int:item_id>", item),
    path("async/<int:item_id>", async_item),
    path("my-route", my_route),
    path("stream", stream),
    path("astream", async_stream),
    path("boom", boom),
    path("gone", gone),
]

configure_from_env()
wsgi = get_wsgi_application()
asgi = get_asgi_application()
