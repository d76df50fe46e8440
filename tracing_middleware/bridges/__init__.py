"""Bridges to the tracers already in the process: LangSmith's SDK (and LangChain through it) and OpenTelemetry.

With a bridge on, one request is one trace whichever tracer made its parts: ``langsmith.traceable``
functions, LangChain runnables and OpenTelemetry spans started in a handler nest under the request
run, and our ``@traceable`` functions, ``trace()`` blocks and outbound calls nest under theirs.

Which bridges are on: ``configure(bridges=...)``, else ``TRACING_MIDDLEWARE_BRIDGES``; the value is
``"auto"`` (the default: each bridge whose peer is installed), ``"none"``, or names from ``NAMES``
(a list, or one comma-separated string). The LangSmith bridge needs ``langsmith``; the OpenTelemetry
bridge needs ``opentelemetry-api`` and does nothing until a real tracer provider is set. With neither
peer installed nothing is imported and nothing is registered. A bridge whose peer is installed but not
imported yet waits for the app to import it (``core.import_hooks``): we never load a tracer the app does
not use, and ``active()`` lists the bridge from the start.

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
from tracing_middleware.core.import_hooks import cancel, when_imported

__all__ = ["NAMES", "CHOICES", "ENV", "parse", "from_env", "apply", "active"]

NAMES = ("langsmith", "otel")
"""The bridges there are, in the order they are consulted."""
CHOICES = ("auto", "none", *NAMES)
ENV = "TRACING_MIDDLEWARE_BRIDGES"
_MODULES = {"langsmith": ("langsmith", "tracing_middleware.bridges.langsmith"),
            "otel": ("opentelemetry.trace", "tracing_middleware.bridges.otel")}  # fmt: skip
_OFF = {"none", "off", "false", "0", ""}
logger = logging.getLogger("tracing_middleware.bridges")
_lock = threading.RLock()  # re-entered when ``when_imported`` calls back at once (the peer is imported)
_installed: dict[str, Bridge] = {}
_armed: set[str] = set()  # on, waiting for the app to import the peer


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
    module = _MODULES[name][1]
    try:
        bridge: Bridge = importlib.import_module(module).bridge()
    except ImportError:  # the peer is there but broken or too old: run without this bridge
        logger.warning("the %s bridge could not be loaded; %s runs will not nest with ours", name, name, exc_info=True)
        return None
    return bridge


def _install_when_used(name: str) -> Any:
    def install(module: Any) -> None:
        # Called inside the peer's import: a thread holding ``_lock`` may wait for that import, so
        # give up after a while rather than deadlock (``apply`` from that thread decides anyway).
        if not _lock.acquire(timeout=1.0):
            return
        try:
            if name not in _armed:
                return
            _armed.discard(name)
            bridge = _load(name)
            if bridge is not None:
                _installed[name] = bridge
                register_bridge(bridge)
        finally:
            _lock.release()

    return install


def apply(names: Sequence[str]) -> tuple[str, ...]:
    """Turn on the bridges ``names`` whose peer is installed, off the others; the names now on.

    A bridge is registered when its peer is imported: at once if the app has imported it, else the
    moment it does.
    """
    with _lock:
        for name in NAMES:
            peer = _MODULES[name][0]
            if name in names:
                if name in _installed or name in _armed:
                    continue
                try:
                    installed = importlib.util.find_spec(peer.partition(".")[0]) is not None
                except (ImportError, ValueError):
                    installed = False
                if installed:
                    _armed.add(name)
                    when_imported(peer, _install_when_used(name))
                continue
            if name in _armed:
                _armed.discard(name)
                cancel(peer)
            bridge = _installed.pop(name, None)
            if bridge is not None:
                unregister_bridge(bridge)
        return active()


def active() -> tuple[str, ...]:
    """The names of the bridges on: registered, or waiting for the app to import their peer."""
    with _lock:
        return tuple(name for name in NAMES if name in _installed or name in _armed)
