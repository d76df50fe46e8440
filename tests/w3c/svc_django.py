"""Django service with the middleware in ``MIDDLEWARE``; its outbound requests call is propagated with zero code.

``GET /call?to=URL&n=N&h=NAME:VALUE...`` as in ``svc_fastapi``. Served by gunicorn as ``svc_django:application``.
"""

from __future__ import annotations

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

import requests  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpRequest, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402

import tracing_middleware as tm  # noqa: E402

tm.configure(exporter="none")


def call(request: HttpRequest) -> JsonResponse:
    to = request.GET["to"]
    own = dict(item.split(":", 1) for item in request.GET.getlist("h"))
    with requests.Session() as session:
        session.trust_env = False
        calls = [session.get(to, headers=own, timeout=30).json() for _ in range(int(request.GET.get("n", 1)))]
    return JsonResponse({"calls": calls})


urlpatterns = [path("call", call)]
application = get_wsgi_application()
