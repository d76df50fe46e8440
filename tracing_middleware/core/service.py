"""The default service name: the app being served, not the program serving it.

``python shop.py`` → ``shop``; ``uvicorn shop:app`` / ``gunicorn shop:app`` → ``shop``;
``gunicorn proj.wsgi:application`` → ``proj``; ``flask --app shop run`` (or ``FLASK_APP``) → ``shop``;
``manage.py runserver`` → the Django project named by ``DJANGO_SETTINGS_MODULE``; ``python -m pkg`` →
``pkg``; ``python -m aiohttp.web shop:make_app`` → ``shop``.
Otherwise ``python``. ``TRACING_MIDDLEWARE_SERVICE`` / ``OTEL_SERVICE_NAME`` /
``configure(service_name=...)`` override it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from tracing_middleware.core.env import env_text

__all__ = ["default_service"]

# Programs that serve someone else's app: the service is named after the app they load, not after them.
_LAUNCHERS = frozenset(
    {"uvicorn", "gunicorn", "hypercorn", "granian", "daphne", "waitress-serve", "flask", "manage", "django",
     "django-admin", "celery", "python", "python3", "pytest", "py.test", "__main__", "-c", "-m", ""}
)  # fmt: skip
_GENERIC_MODULES = frozenset({"asgi", "wsgi", "main", "app", "application", "server", "__main__"})


def _app_module(args: Sequence[str]) -> str | None:
    """The module of the first ``module:attr`` argument (``shop:app``, ``proj.asgi:application``), if any."""
    for arg in args:
        module, colon, attr = arg.partition(":")
        attr = attr.split("(", 1)[0]  # a factory: "shop:create_app()"
        parts = module.split(".")
        if colon and all(p.isidentifier() for p in parts) and all(p.isidentifier() for p in attr.split(".")):
            return module
    return None


def _service_of_module(module: str) -> str:
    parts = [p for p in module.split(".") if p]
    while len(parts) > 1 and parts[-1] in _GENERIC_MODULES:  # proj.asgi -> proj, billing.main -> billing
        parts.pop()
    return parts[-1] if parts else ""


def default_service() -> str:
    """The app's name: the script, else the module a launcher serves, Flask's app, Django's project."""
    argv = list(sys.argv) if sys.argv else []
    path = argv[0] if argv else ""
    name = os.path.splitext(os.path.basename(path))[0]
    if name == "__main__":  # python -m package: the package's name
        name = os.path.basename(os.path.dirname(path))
    elif name == "web" and os.path.basename(os.path.dirname(path)) == "aiohttp":
        name = ""  # python -m aiohttp.web shop:make_app: a launcher too
    if name and name not in _LAUNCHERS:
        return name
    found = _app_module(argv[1:])
    flask_app = env_text("FLASK_APP", "")
    if found is None and "--app" in argv[1:-1]:
        flask_app = argv[argv.index("--app") + 1]
    if found is None and flask_app:
        found = os.path.splitext(flask_app.partition(":")[0].replace("/", "."))[0]
    django = env_text("DJANGO_SETTINGS_MODULE", "")
    if found is None and django:
        found = django.rpartition(".")[0] or django  # proj.settings -> proj
    service = _service_of_module(found) if found else ""
    return service or (name if name not in ("", "-c", "-m", "__main__") else "python")
