"""Demo service 3, Django in one module: ``GET /price/<order_id>``.

Started by ``tracing-middleware demo`` (``python -m tracing_middleware.demo.pricing PORT``).
"""

from __future__ import annotations

import sys

try:
    import django  # type: ignore[import-untyped,unused-ignore]
    from django.conf import settings  # type: ignore[import-untyped,unused-ignore]
    from django.http import HttpRequest, JsonResponse  # type: ignore[import-untyped,unused-ignore]
    from django.urls import path  # type: ignore[import-untyped,unused-ignore]
except ImportError as error:  # pragma: no cover - the demo says what to install
    raise ImportError("the demo needs: pip install 'tracing-middleware[demo]'") from error

import tracing_middleware as tm

tm.configure(service_name="pricing")

if not settings.configured:
    settings.configure(
        DEBUG=False,
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF=__name__,
        SECRET_KEY="demo-only-not-secret",
        MIDDLEWARE=["tracing_middleware.adapters.django.TracingMiddleware"],
        TRACING_MIDDLEWARE={"exclude_paths": ["/health"]},
    )
    django.setup()


@tm.traceable(run_type="llm")
def quote_price(order_id: str) -> dict[str, float]:
    """Stands for a model call: the slowest kind of run in a real trace."""
    return {"price": round(9.5 + len(order_id) * 1.25, 2)}


def price(request: HttpRequest, order_id: str) -> JsonResponse:
    """The price of an order."""
    return JsonResponse(quote_price(order_id))


def health(request: HttpRequest) -> JsonResponse:
    """Readiness probe (not traced)."""
    return JsonResponse({"status": "ok"})


urlpatterns = [path("price/<str:order_id>", price), path("health", health)]

if __name__ == "__main__":
    from django.core.wsgi import get_wsgi_application  # type: ignore[import-untyped,unused-ignore]
    from werkzeug.serving import run_simple

    run_simple("127.0.0.1", int(sys.argv[1]), get_wsgi_application(), threaded=True)
