"""A Flask service continuing its callers' traces: the server side of LangSmith's distributed-tracing page.

Run it with ``python examples/flask_app.py`` (http://127.0.0.1:8001), then call it from a traced client,
e.g. ``SERVER_URL=http://127.0.0.1:8001 python examples/seed_client.py``, or with the real ``langsmith``
package::

    from langsmith import RunTree
    import requests

    caller = RunTree(name="client", run_type="chain")
    requests.post("http://127.0.0.1:8001/my-route", headers=caller.to_headers())

Each request becomes a run named after its URL rule (``POST /my-route``), a child of the caller's run;
``my_application`` becomes its child. Runs go to the exporter chosen by ``TRACING_MIDDLEWARE_EXPORTER``
(default ``sqlite``). In production, serve ``examples.flask_app:app`` with gunicorn instead.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, jsonify

from tracing_middleware import get_current_run_tree, traceable
from tracing_middleware.adapters.flask import instrument_app


@traceable
def my_application() -> dict[str, Any]:
    run = get_current_run_tree()
    return {"trace_id": run.trace_id if run else None, "parent_run_id": run.parent_run_id if run else None}


app = Flask(__name__)
instrument_app(app)  # no more `with tracing_context(parent=request.headers)` per route


@app.post("/my-route")
def fake_route() -> Any:
    return jsonify(my_application())


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "8001")), threaded=True)
