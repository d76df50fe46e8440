"""Flask service with the one-line ``instrument_app``; its outbound requests call is propagated with zero code.

``GET /call?to=URL&n=N&h=NAME:VALUE...`` as in ``svc_fastapi``. Served by gunicorn.
"""

from __future__ import annotations

from typing import Any

import requests
from flask import Flask, request

import tracing_middleware as tm
from tracing_middleware.adapters.flask import instrument_app

tm.configure(exporter="none")
app = Flask(__name__)


@app.get("/call")
def call() -> dict[str, Any]:
    to = request.args["to"]
    own = dict(item.split(":", 1) for item in request.args.getlist("h"))
    with requests.Session() as session:
        session.trust_env = False
        n = int(request.args.get("n", 1))
        return {"calls": [session.get(to, headers=own, timeout=30).json() for _ in range(n)]}


instrument_app(app)
