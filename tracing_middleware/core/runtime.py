"""The process's tracing state in one object: ``Runtime``, read with ``get_runtime()``, swapped with ``use_runtime``.

Everything the package remembers between calls lives here: the settings and their processors, whether
runs emit ``traceparent``, the options of the patched HTTP clients, the excluded URL prefixes, the
recent outbound headers (to recognise our own on a retry), whether outbound patching is still pending,
the counters of rejected headers, and the environment values already warned about.
``testing.recording()`` and the tests swap a whole ``Runtime`` instead of editing module globals::

    with use_runtime(get_runtime().copy(outbound_pending=False)):
        ...

Deliberately not here, because they describe the process rather than a configuration a test could
swap: the live batch worker threads (``core.batch``, flushed at exit and after ``fork``), the patches
applied to third-party classes (``instrument``: swapping an object cannot take a monkeypatch out), the
bridges to other in-process tracers (``core.context``: they follow the tracers loaded in the process,
and the hot paths test them with one module-global check), the locks, and the pure ``ids`` time-prefix
cache (a function of the clock alone; resetting it changes nothing observable).

The swap is process-wide, not per context: the hot paths read one module attribute (``current``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracing_middleware.core.config import Settings

__all__ = ["Runtime", "get_runtime", "set_runtime", "use_runtime"]


@dataclass(eq=False)
class Runtime:
    """All mutable tracing state of the process; see the module docstring."""

    settings: Settings | None = None
    """The effective configuration; None until ``configure()`` or the first run configures from the environment."""
    emit_w3c: bool = True
    """Whether runs send ``traceparent`` beside ``langsmith-trace`` by default (``settings.w3c``)."""
    outbound_options: Any = None
    """``transports.options.Options`` of the patched clients; None: from the environment on first use."""
    excluded_urls: tuple[str, ...] = ()
    """Normalized URL prefixes never traced (``transports.exclude_urls``)."""
    remembered: list[dict[str, Any]] = field(default_factory=lambda: [{}, {}])
    """Two generations of ``langsmith-trace`` value -> outbound hop we sent, to recognise our own header."""
    outbound_pending: bool = True
    """True until an inbound adapter has instrumented httpx/requests (done once per process)."""
    outbound_switch: Any = None
    """What an inbound adapter calls (once, see ``outbound_pending``) to turn outbound propagation on:
    ``transports.instrument.instrument``, set when ``tracing_middleware`` is imported, so the middleware
    layer never imports the transports above it. None: nothing to switch on."""
    rejected: dict[str, int] = field(default_factory=dict)
    """How many incoming headers of each kind were (partly) ignored."""
    last_logged: dict[str, float] = field(default_factory=dict)
    """When a rejected header kind was last logged (the log is rate-limited)."""
    warned_env: set[tuple[str, str]] = field(default_factory=set)
    """(variable, value) pairs already warned about as unparsable (``core.env`` warns once for each)."""
    owns_settings: bool = True
    """Whether ``configure()`` may shut the processors of ``settings`` down when it replaces them: False
    in a copy sharing its original's settings, so configuring inside a copy leaves the original working."""

    def copy(self, **changes: Any) -> Runtime:
        """A new runtime with this one's values and ``changes``; its caches and counters start empty.

        Unless ``settings`` is among the changes, the copy shares this runtime's settings without owning
        them: ``configure()`` inside the copy replaces them but does not shut them down.
        """
        fresh: dict[str, Any] = {"remembered": [{}, {}], "rejected": {}, "last_logged": {}, "warned_env": set()}
        fresh["owns_settings"] = "settings" in changes or self.settings is None
        fresh.update(changes)
        return dataclasses.replace(self, **fresh)


current: Runtime = Runtime()
"""The active runtime. Read it (hot paths do); replace it only with ``set_runtime`` / ``use_runtime``."""
_swap = threading.Lock()


def get_runtime() -> Runtime:
    """The active runtime."""
    return current


def set_runtime(runtime: Runtime) -> Runtime:
    """Make ``runtime`` the active one; returns the previous one (nothing is shut down)."""
    global current
    if not isinstance(runtime, Runtime):
        raise TypeError(f"runtime must be a Runtime; got {type(runtime).__name__}")
    with _swap:
        previous, current = current, runtime
    return previous


@contextlib.contextmanager
def use_runtime(runtime: Runtime) -> Iterator[Runtime]:
    """Make ``runtime`` active inside the ``with`` block and put the previous one back after."""
    previous = set_runtime(runtime)
    try:
        yield runtime
    finally:
        set_runtime(previous)
