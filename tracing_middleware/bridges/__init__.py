"""Bridges to the tracers already in the process: LangSmith's SDK (and LangChain through it) and OpenTelemetry.

With a bridge on, one request is one trace whichever tracer made its parts: ``langsmith.traceable``
functions, LangChain runnables and OpenTelemetry spans started in a handler nest under the request
run, and our ``@traceable`` functions, ``trace()`` blocks and outbound calls nest under theirs.

Which bridges are on: ``configure(bridges=...)``, else ``TRACING_MIDDLEWARE_BRIDGES``; the value is
``"auto"`` (the default: each bridge whose peer is installed), ``"none"``, or names from ``NAMES``
(a list, or one comma-separated string). The LangSmith bridge needs ``langsmith``; the OpenTelemetry
bridge needs ``opentelemetry-api`` and does nothing until a real tracer provider is set. With neither
peer installed nothing is imported and nothing is registered.

``otel_propagator`` (OpenTelemetry's propagator for ``langsmith-trace``) lives here too; OpenTelemetry
loads it through the package's entry point, not through ``apply``.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import threading
from collections.abc import Sequence
from typing import Any

from tracing_middleware.core.context import Bridge, register_bridge, unregister_bridge
from tracing_middleware.core.env import env_text, warn_bad

__all__ = ["NAMES", "CHOICES", "ENV", "parse", "from_env", "apply", "active"]

NAMES = ("langsmith", "otel")
"""The bridges there are, in the order they are consulted."""
CHOICES = ("auto", "none", *NAMES)
ENV = "TRACING_MIDDLEWARE_BRIDGES"
_MODULES = {"langsmith": ("langsmith", "tracing_middleware.bridges.langsmith"),
            "otel": ("opentelemetry.trace", "tracing_middleware.bridges.otel")}  # fmt: skip
_OFF = {"none", "off", "false", "0", ""}
logger = logging.getLogger("tracing_middleware.bridges")
_lock = threading.Lock()
_installed: dict[str, Bridge] = {}


def parse(value: Any) -> tuple[str, ...]:
    """The bridge names ``value`` asks for (``"auto"``: all); ``ValueError``/``TypeError`` naming the choices."""
    if isinstance(value, bool):
        return NAMES if value else ()
    if isinstance(value, str):
        items = [part.strip().lower() for part in value.split(",")]
    elif isinstance(value, Sequence):
        items = []
        for part in value:
            if not isinstance(part, str):
                raise TypeError(f"bridges must be names among {', '.join(CHOICES)}; got {part!r}")
            items.append(part.strip().lower())
    else:
        raise TypeError(f"bridges must be one of {', '.join(CHOICES)}, a list of them, True or False; got {value!r}")
    names = [item for item in items if item]
    if not names or names == ["none"] or (len(names) == 1 and names[0] in _OFF):
        return ()
    if "auto" in names:
        if len(names) > 1:
            raise ValueError(f"bridges: 'auto' cannot be combined with other names; got {value!r}")
        return NAMES
    unknown = [name for name in names if name not in NAMES]
    if unknown:
        raise ValueError(f"bridges must be among {', '.join(CHOICES)}; got {', '.join(map(repr, unknown))}")
    return tuple(name for name in NAMES if name in names)


def from_env() -> tuple[str, ...]:
    """The bridges ``TRACING_MIDDLEWARE_BRIDGES`` asks for; a bad value is logged once and means ``auto``."""
    raw = env_text(ENV, "")
    if not raw:
        return NAMES
    try:
        return parse(raw)
    except ValueError:
        warn_bad(ENV, raw, f"'auto', 'none' or names among {', '.join(CHOICES)}", "'auto'")
        return NAMES


def _load(name: str) -> Bridge | None:
    peer, module = _MODULES[name]
    try:
        if importlib.util.find_spec(peer.partition(".")[0]) is None:
            return None
        bridge: Bridge = importlib.import_module(module).bridge()
    except ImportError:  # the peer is there but broken or too old: run without this bridge
        logger.warning("the %s bridge could not be loaded; %s runs will not nest with ours", name, name, exc_info=True)
        return None
    return bridge


def apply(names: Sequence[str]) -> tuple[str, ...]:
    """Register the bridges ``names`` whose peer is installed, unregister the others; the names now on."""
    with _lock:
        for name in NAMES:
            wanted = name in names
            bridge = _installed.get(name)
            if wanted and bridge is None:
                bridge = _load(name)
                if bridge is None:
                    continue
                _installed[name] = bridge
                register_bridge(bridge)
            elif not wanted and bridge is not None:
                unregister_bridge(bridge)
                del _installed[name]
        return tuple(_installed)


def active() -> tuple[str, ...]:
    """The names of the bridges registered now."""
    return tuple(name for name in NAMES if name in _installed)
