"""Demo service 2, Flask: ``GET /stock/<order_id>`` calls the pricing service with requests.

Started by ``tracing-middleware demo`` (``python -m tracing_middleware.demo.inventory PORT``).
"""

from __future__ import annotations

import os
import sys

try:
    import requests
    from flask import Flask, jsonify
    from flask.typing import ResponseReturnValue
except ImportError as error:  # pragma: no cover - the demo says what to install
    raise ImportError("the demo needs: pip install 'tracing-middleware[demo]'") from error

import tracing_middleware as tm
from tracing_middleware.adapters.flask import instrument_app

tm.configure(service_name="inventory")
PRICING_URL = os.environ.get("PRICING_URL", "http://127.0.0.1:8002")

app = Flask(__name__)
instrument_app(app, exclude_paths=["/health"])


@tm.traceable(run_type="retriever")
def reserve(order_id: str) -> dict[str, int]:
    """Stands for a lookup in a store."""
    return {"reserved": 1 + sum(map(ord, order_id)) % 5}


@app.get("/health")
def health() -> ResponseReturnValue:
    """Readiness probe (not traced)."""
    return {"status": "ok"}


@app.get("/stock/<order_id>")
def stock(order_id: str) -> ResponseReturnValue:
    """Reserve stock for an order and price it."""
    reservation = reserve(order_id)
    price = requests.get(f"{PRICING_URL}/price/{order_id}", timeout=10).json()  # patched, like httpx
    return jsonify({**reservation, **price})


if __name__ == "__main__":
    from werkzeug.serving import run_simple

    run_simple("127.0.0.1", int(sys.argv[1]), app, threaded=True)
