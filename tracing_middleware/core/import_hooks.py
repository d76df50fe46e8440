"""``when_imported(name, callback)``: run code once a module is imported, without importing it ourselves.

The automatic outbound switch and the bridges act on libraries the app may use (httpx, requests,
aiohttp, langsmith, OpenTelemetry). Importing each one that happens to be installed would cost the app
their start-up time and memory, and a bigger heap makes every full garbage collection slower, so a
library the app has already imported is handled at once and any other one the moment the app imports
it: a finder on ``sys.meta_path`` wraps that module's loader and calls back right after the module ran.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import threading
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from tracing_middleware.core.printable import get_logger

__all__ = ["when_imported", "cancel"]

logger = get_logger("tracing_middleware")
_lock = threading.RLock()
_waiting: dict[str, list[Callable[[ModuleType], None]]] = {}
_finding = threading.local()  # names this thread is resolving, so the finder does not ask itself again


def when_imported(name: str, callback: Callable[[ModuleType], None]) -> None:
    """Call ``callback(module)`` now if ``name`` is imported, else right after it first is. Never raises."""
    with _lock:
        module = sys.modules.get(name)
        if module is None:
            _waiting.setdefault(name, []).append(callback)
            if _FINDER not in sys.meta_path:
                sys.meta_path.insert(0, _FINDER)
            return
    _call(callback, module)


def cancel(name: str) -> None:
    """Forget the callbacks waiting for ``name`` (for example after ``uninstrument()``)."""
    with _lock:
        _waiting.pop(name, None)


def _call(callback: Callable[[ModuleType], None], module: ModuleType) -> None:
    try:
        callback(module)
    except Exception as error:  # an import hook must never break the app's import
        logger.warning("after importing %s: %s: %s", module.__name__, type(error).__name__, error)


def _run_callbacks(name: str, module: ModuleType) -> None:
    with _lock:
        callbacks = _waiting.pop(name, [])
    for callback in callbacks:
        _call(callback, module)


class _Loader(importlib.abc.Loader):
    """The module's own loader, which then runs the callbacks; every other attribute is the real loader's."""

    def __init__(self, loader: Any, name: str) -> None:
        self._loader = loader
        self._name = name

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        create: Callable[[importlib.machinery.ModuleSpec], ModuleType | None] | None
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        _run_callbacks(self._name, module)

    def __getattr__(self, attr: str) -> Any:  # get_resource_reader, is_package, get_source, ...
        return getattr(self._loader, attr)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in _waiting:  # the common case: one dict lookup per import
            return None
        busy: set[str] = getattr(_finding, "names", None) or set()
        if fullname in busy:
            return None
        _finding.names = busy | {fullname}
        try:
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec: importlib.machinery.ModuleSpec | None = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
            else:
                return None
        finally:
            _finding.names = busy
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _Loader(spec.loader, fullname)
        return spec


_FINDER = _Finder()
