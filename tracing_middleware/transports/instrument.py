"""``instrument()`` / ``uninstrument()``: zero-code outbound header propagation for httpx and requests.

``instrument()`` patches ``httpx.Client``/``AsyncClient`` (and ``httpx2``'s, when installed) and
``requests.Session`` (and aiohttp's ``ClientSession``) so that every request made inside a run carries
``langsmith-trace``, ``baggage`` and ``traceparent`` as far as its destination may see them
(``core.destinations``), under a client run of its own (see ``tracing_middleware.transports``).

- Importing this module patches nothing.
- ``instrument()`` imports each chosen library that is installed. The automatic switch (the first
  traced request, ``core.outbound``) calls ``instrument_on_import()`` instead, which patches the
  libraries the app has imported and each other one the moment the app imports it
  (``core.import_hooks``): a library the app never uses is never loaded.
- A second ``instrument()`` patches nothing again; its ``targets``/``client_runs`` replace the earlier ones.
- A library that is not installed is skipped.
- ``uninstrument()`` puts back each original function whose attribute still holds our patch; where
  someone patched on top of ours, ours is switched off instead, so their patch keeps working.
- Both are thread-safe.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any, NamedTuple

from tracing_middleware.core import runtime as _rt
from tracing_middleware.core.destinations import PropagationTargets
from tracing_middleware.core.import_hooks import cancel, when_imported
from tracing_middleware.core.printable import get_logger
from tracing_middleware.transports.client_run import Switch
from tracing_middleware.transports.options import Options, as_targets, set_global_options

__all__ = ["instrument", "uninstrument", "instrumented"]

logger = get_logger("tracing_middleware.transports")

_LIBRARIES = {"httpx": "tracing_middleware.transports.httpx", "requests": "tracing_middleware.transports.requests"}
_LIBRARIES["aiohttp"] = "tracing_middleware.transports.aiohttp"
# The modules whose import means a library is in use (httpx2 is patched by the httpx transport).
_WATCHED = {"httpx": ("httpx", "httpx2"), "requests": ("requests",), "aiohttp": ("aiohttp",)}


class _Patch(NamedTuple):
    owner: type
    attr: str
    original: Any  # as found in the owner's own __dict__, or _INHERITED
    replacement: Callable[..., Any]
    switch: Switch


_INHERITED = object()
_lock = threading.RLock()  # re-entered when when_imported calls back at once (the library is imported)
_patches: dict[str, list[_Patch]] = {}


def _apply(owner: type, attr: str, make: Callable[[Callable[..., Any], Switch], Callable[..., Any]]) -> _Patch:
    own = owner.__dict__.get(attr, _INHERITED)
    switch = Switch()
    replacement = make(getattr(owner, attr), switch)
    setattr(owner, attr, replacement)
    return _Patch(owner, attr, own, replacement, switch)


def _undo(patch: _Patch) -> None:
    if patch.owner.__dict__.get(patch.attr) is not patch.replacement:
        # Patched again on top of ours: removing ours would drop theirs too, so ours stops acting.
        patch.switch.on = False
        return
    if patch.original is _INHERITED:
        delattr(patch.owner, patch.attr)
    else:
        setattr(patch.owner, patch.attr, patch.original)
    patch.switch.on = False


def instrument(
    *, httpx: bool = True, requests: bool = True, targets: Iterable[str] | PropagationTargets | None = None,
    client_runs: bool = True, aiohttp: bool = True,
) -> list[str]:  # fmt: skip
    """Patch the chosen client libraries (those installed); returns the names of the patched ones.

    ``targets``: host patterns and URL prefixes that get every tracing header, baggage included, on
    top of the deployment's own hosts (default: the ``TRACING_MIDDLEWARE_PROPAGATE_TO`` environment
    variable); other public hosts get trace ids only, well-known AI and cloud APIs nothing. See
    ``tracing_middleware.core.destinations``. ``client_runs=False``: only inject the current run's
    headers, without a client run per request.
    """
    for name, value in (("httpx", httpx), ("requests", requests), ("aiohttp", aiohttp), ("client_runs", client_runs)):
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be True or False; got {value!r}")
    options = Options(client_runs, as_targets(targets))
    wanted = [name for name, on in (("httpx", httpx), ("requests", requests), ("aiohttp", aiohttp)) if on]
    with _lock:
        set_global_options(options)
        for name in wanted:
            _armed.discard(name)  # patched here and now: the import hooks need not (and must not) do it
            _patch(name)
        # Called by the user or by the automatic switch: either way it is done, and the switch must not
        # run later and put the default options back over the ones given here.
        _rt.current.outbound_pending = False
        return sorted(_patches)


def _patch(name: str, module: ModuleType | None = None) -> None:
    """Patch one library if it is installed and not patched yet (the caller holds ``_lock``).

    ``module``: our transport module for it, when the caller has it (else it is imported).
    """
    if name in _patches:
        return
    if module is None:
        try:
            module = importlib.import_module(_LIBRARIES[name])
        except ImportError:
            logger.debug("%s is not installed; not instrumented", name)
            return
    _patches[name] = [_apply(owner, attr, make) for owner, attr, make in module.patch_points()]


def transport_loaded(name: str, module: ModuleType) -> None:
    """Called by our transport module for ``name`` as its last step: patch if the switch waits for it.

    Its client library's import hook cannot patch when that import came from the transport module
    itself (which is then only half made); this finishes the job.
    """
    _patch_if_armed(name, module)


def _patch_if_armed(name: str, module: ModuleType | None = None) -> None:
    # We may run inside an import (the library's, or our transport module's). A thread in
    # ``instrument()`` holding ``_lock`` may be waiting for that very import, so wait for the lock
    # only a while: that thread patches it anyway.
    if not _lock.acquire(timeout=1.0):
        return
    try:
        if name in _armed:
            _armed.discard(name)
            _patch(name, module)
    finally:
        _lock.release()


def _initialising(name: str) -> bool:
    spec = getattr(sys.modules.get(name), "__spec__", None)
    return bool(getattr(spec, "_initializing", False))


def _patch_when_used(name: str) -> Callable[[ModuleType], None]:
    def patch(module: ModuleType) -> None:
        # Imported by our own transport module, which is half made yet: it calls transport_loaded.
        if not _initialising(_LIBRARIES[name]):
            _patch_if_armed(name)

    return patch


_armed: set[str] = set()  # libraries the automatic switch waits for, until patched or uninstrumented


def instrument_on_import() -> list[str]:
    """The automatic switch's ``instrument()``: default options; a library is patched once the app imports it.

    Returns the names patched now (those already imported).
    """
    with _lock:
        set_global_options(Options(True, as_targets(None)))
        for name, modules in _WATCHED.items():
            if name in _patches:
                continue
            _armed.add(name)
            for module in modules:
                when_imported(module, _patch_when_used(name))  # an imported library is patched here, at once
        # Only now: a thread that saw False before the patches were in would send its calls bare.
        _rt.current.outbound_pending = False
        return sorted(_patches)


def uninstrument(*, httpx: bool = True, requests: bool = True, aiohttp: bool = True) -> None:
    """Take out the patches of the chosen libraries (those patched); a no-op for the others."""
    wanted = [name for name, on in (("httpx", httpx), ("requests", requests), ("aiohttp", aiohttp)) if on]
    with _lock:
        for name in wanted:
            _armed.discard(name)
            for module in _WATCHED[name]:
                cancel(module)
            for patch in reversed(_patches.pop(name, [])):
                _undo(patch)


def instrumented() -> list[str]:
    """The names of the libraries currently patched."""
    with _lock:
        return sorted(_patches)
