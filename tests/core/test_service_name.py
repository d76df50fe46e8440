"""The default service name is the app being served, not the program serving it."""

from __future__ import annotations

import pytest

from tracing_middleware.core.service import default_service


@pytest.mark.parametrize(
    ("argv", "environ", "expected"),
    [
        (["/srv/shop.py"], {}, "shop"),
        (["/venv/bin/uvicorn", "shop:app", "--port", "8000"], {}, "shop"),
        (["/venv/lib/python3.12/site-packages/uvicorn/__main__.py", "shop:app"], {}, "shop"),
        (["/venv/bin/gunicorn", "-b", "127.0.0.1:8000", "-k", "uvicorn.workers.UvicornWorker", "billing.main:app"],
         {}, "billing"),
        (["/venv/bin/gunicorn", "proj.wsgi:application"], {}, "proj"),
        (["/venv/bin/hypercorn", "shop:create_app()"], {}, "shop"),
        (["/venv/bin/flask", "--app", "inventory", "run"], {}, "inventory"),
        (["/venv/bin/flask", "run"], {"FLASK_APP": "src/pricing.py"}, "pricing"),
        (["manage.py", "runserver"], {"DJANGO_SETTINGS_MODULE": "mysite.settings"}, "mysite"),
        (["/venv/lib/python3.12/site-packages/django/__main__.py", "runserver"],
         {"DJANGO_SETTINGS_MODULE": "mysite.settings"}, "mysite"),
        (["/venv/lib/python3.12/site-packages/worker/__main__.py"], {}, "worker"),
        (["/venv/lib/python3.12/site-packages/aiohttp/web.py", "-P", "8080", "shop:make_app"], {}, "shop"),
        (["/srv/web.py"], {}, "web"),
        (["-c"], {}, "python"),
        ([], {}, "python"),
        (["/venv/bin/uvicorn", "--port", "8000"], {}, "uvicorn"),
    ],
)  # fmt: skip
def test_default_service(
    argv: list[str], environ: dict[str, str], expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.argv", argv)
    monkeypatch.delenv("FLASK_APP", raising=False)
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert default_service() == expected
