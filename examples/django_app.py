"""A one-module Django service continuing its callers' traces (the server side of LangSmith's page).

Run it with ``python examples/django_app.py runserver 127.0.0.1:8002`` (any ``manage.py`` command works),
then ``SERVER_URL=http://127.0.0.1:8002 python examples/seed_client.py``. Under a production server use
``gunicorn examples.django_app:application`` (WSGI) or ``uvicorn examples.django_app:asgi_application``
(ASGI); the middleware is the same.

Tracing is one ``MIDDLEWARE`` entry; options go in the ``TRACING_MIDDLEWARE`` setting. Each request
becomes a run named after its route (``POST my-route``), a child of the caller's run. Runs go to the
exporter chosen by ``TRACING_MIDDLEWARE_EXPORTER`` (default ``sqlite``).
"""

from __future__ import annotations

import sys
from typing import Any

from django.conf import settings

settings.configure(
    DEBUG=True,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    SECRET_KEY="example-only-not-secret",
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[],
    DATABASES={},
    MIDDLEWARE=["tracing_middleware.adapters.django.TracingMiddleware"],
    TRACING_MIDDLEWARE={"exclude_paths": ["/health"]},
)

from django.core.asgi import get_asgi_application  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpRequest, HttpResponse, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402

from tracing_middleware import get_current_run_tree, traceable  # noqa: E402


@traceable
async def my_application() -> dict[str, Any]:
    run = get_current_run_tree()
    return {"trace_id": run.trace_id if run else None, "parent_run_id": run.parent_run_id if run else None}


async def fake_route(request: HttpRequest) -> HttpResponse:
    return JsonResponse(await my_application())


def health(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


urlpatterns = [path("my-route", fake_route), path("health", health)]

application = get_wsgi_application()
asgi_application = get_asgi_application()

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
