"""A one-module Django project for the shutdown tests: settings and URLs (``DJANGO_SETTINGS_MODULE=drain_django``)."""

from __future__ import annotations

import json
import os
import time

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

DEBUG = False
ALLOWED_HOSTS = ["*"]
SECRET_KEY = "tests-only"
ROOT_URLCONF = __name__
INSTALLED_APPS: list[str] = []
DATABASES: dict[str, object] = {}
MIDDLEWARE = ["tracing_middleware.adapters.django.TracingMiddleware"]
TRACING_MIDDLEWARE = {"exclude_paths": ["/health"], **json.loads(os.environ.get("TM_OPTIONS") or "{}")}
USE_TZ = True


def work(request: HttpRequest) -> HttpResponse:
    sleep = float(request.GET.get("sleep", "0"))
    if sleep:
        time.sleep(sleep)
    return JsonResponse({"i": request.GET.get("i")})


def health(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"ok": "yes"})


urlpatterns = [path("work", work), path("health", health)]
