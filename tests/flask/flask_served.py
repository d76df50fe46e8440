"""A Flask app for the tests, traced with ``instrument_app``; served by gunicorn as ``flask_served:app``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, abort, jsonify, request
from serving import configure_from_env, whoami

from tracing_middleware import RunTree, trace, traceable, tracing_context
from tracing_middleware.adapters.flask import instrument_app

LEAKED = RunTree("leaked-parent")


@traceable
def my_application(item_id: int) -> dict[str, Any]:
    return {"item_id": item_id, **whoami()}


def create_app(**options: Any) -> Flask:
    app = Flask(__name__)

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> Any:
        report = whoami()
        if request.args.get("leak"):
            # A handler that enters a context and never leaves it: the next request on this thread must not see it.
            tracing_context(parent=LEAKED).__enter__()
        return jsonify(report)

    @app.post("/my-route")
    def my_route() -> Any:
        return jsonify(my_application(7))

    @app.get("/stream")
    def stream() -> Response:
        def chunks() -> Iterator[str]:
            for index in range(3):
                with trace(f"chunk-{index}"):
                    chunk = json.dumps(whoami()) + "\n"
                yield chunk

        return Response(chunks(), mimetype="text/plain")

    @app.get("/boom")
    def boom() -> Any:
        raise RuntimeError("view failed")

    @app.get("/gone")
    def gone() -> Any:
        abort(503)

    instrument_app(app, **{"instrument_outbound": False, **options})
    return app


configure_from_env()
app = create_app()
