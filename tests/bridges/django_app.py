"""A one-module Django project for the bridge tests: ``django_app:wsgi`` (gunicorn) or ``:asgi`` (uvicorn)."""

from __future__ import annotations

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
        LOGGING_CONFIG=None,
    )

import django

django.setup()

import scenario  # noqa: E402
from asgiref.sync import sync_to_async  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpRequest, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402

scenario.configure()


def _base(request: HttpRequest) -> str:
    return f"http://{request.get_host()}"


def work(request: HttpRequest) -> JsonResponse:
    return JsonResponse(scenario.work(_base(request)))


async def work_async(request: HttpRequest) -> JsonResponse:
    # An async view handing the work to a thread, as Django code calling sync libraries does.
    report: dict[str, Any] = await sync_to_async(scenario.work, thread_sensitive=False)(_base(request))
    return JsonResponse(report)


def echo(request: HttpRequest) -> JsonResponse:
    return JsonResponse(scenario.echo(request.headers))


def probe(request: HttpRequest) -> JsonResponse:
    return JsonResponse(scenario.probe())


urlpatterns = [
    path("work", work),
    path("work-async", work_async),
    path("echo", echo),
    path("probe", probe),
]
wsgi = get_wsgi_application()
asgi = get_asgi_application()
