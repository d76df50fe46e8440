"""Flask under gunicorn's threaded worker, for the bridge tests."""

from __future__ import annotations

from typing import Any

import scenario
from flask import Flask, jsonify, request

from tracing_middleware.adapters.flask import instrument_app

scenario.configure()
app = Flask(__name__)


@app.get("/work")
def work() -> Any:
    return jsonify(scenario.work(request.host_url.rstrip("/")))


@app.get("/echo")
def echo() -> Any:
    return jsonify(scenario.echo(request.headers))


@app.get("/probe")
def probe() -> Any:
    return jsonify(scenario.probe())


instrument_app(app)
