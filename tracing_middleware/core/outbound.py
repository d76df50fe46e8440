"""The once-per-process switch that turns outbound propagation on (``tracing_middleware.instrument()``).

The first request through any inbound adapter, or the first root run of a plain script, patches the
installed HTTP clients (httpx, requests) so that calls made inside runs carry the tracing headers. It
happens once per process, and no caller goes ahead before the patches are in: a thread arriving while
another one patches waits for it.

Opt out with ``TRACING_MIDDLEWARE_OUTBOUND=false`` (nothing is patched unless you call ``instrument()``
yourself), or per adapter with the middleware option ``instrument_outbound=False``.
"""

from __future__ import annotations

import threading

from tracing_middleware.core import runtime as _rt
from tracing_middleware.core.env import env_flag
from tracing_middleware.core.printable import get_logger

__all__ = ["switch_outbound_on"]

logger = get_logger("tracing_middleware.transports")
_lock = threading.Lock()


def switch_outbound_on() -> None:
    """Patch the HTTP clients once per process (see the module docstring); never raises."""
    runtime = _rt.current
    if not runtime.outbound_pending:
        return
    with _lock:
        if not runtime.outbound_pending:
            return
        try:
            # ``Runtime.outbound_switch`` is ``transports.instrument.instrument``, set by the package's
            # ``__init__``: the core never imports its callers. None: nothing to switch on.
            switch = runtime.outbound_switch
            if switch is not None and env_flag("TRACING_MIDDLEWARE_OUTBOUND", True):
                switch()
        except Exception as error:  # a client library failing to patch must not fail the request
            logger.warning("outbound instrumentation failed: %s: %s", type(error).__name__, error)
        finally:
            # Only now: a thread that saw False before the patches were in would send its calls bare.
            runtime.outbound_pending = False
