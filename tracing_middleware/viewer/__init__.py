"""A local web viewer of the SQLite trace store: ``tracing-middleware serve``, or mount ``create_app()``.

``create_app`` is imported on first use, so importing this package (as the CLI does) loads neither
starlette nor uvicorn.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from tracing_middleware.viewer.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
