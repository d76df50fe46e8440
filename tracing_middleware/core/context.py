"""The current run, in one ContextVar: ``tracing_context``, ``get_current_run_tree``, ``bind_context``.

The variable is always set with a token and reset with it in ``finally``, so a request, a task or a
thread never sees another's run. asyncio tasks copy the context when they are created, so they inherit
the current run by themselves; a thread pool does not, which is what ``bind_context`` is for.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, TypeVar

from tracing_middleware.core.run_tree import RunTree

__all__ = ["tracing_context", "get_current_run_tree", "get_tracing_context", "bind_context", "suppress_tracing"]

T = TypeVar("T")


class TracingState(NamedTuple):
    """What ``tracing_context`` scopes: the current run and the defaults for runs made under it."""

    run: RunTree | None = None
    project_name: str | None = None
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] | None = None
    enabled: bool = True


_EMPTY = TracingState()
_STATE: contextvars.ContextVar[TracingState] = contextvars.ContextVar("tracing_middleware", default=_EMPTY)


def get_tracing_context() -> TracingState:
    """The current tracing state (run, project, tags, metadata, enabled)."""
    return _STATE.get()


def get_current_run_tree() -> RunTree | None:
    """The run the current code executes in, or None outside any run."""
    return _STATE.get().run


def resolve_parent(parent: Any) -> RunTree | None:
    """A parent given as a RunTree, a dotted-order string, or headers (any carrier); None if unusable."""
    if parent is None or parent is False:
        return None
    if isinstance(parent, RunTree):
        return parent
    if isinstance(parent, str):
        return RunTree.from_dotted_order(parent)
    if isinstance(parent, (bytes, bytearray)):
        return RunTree.from_dotted_order(bytes(parent).decode("latin-1"))
    return RunTree.from_headers(parent)


@contextlib.contextmanager
def tracing_context(
    *,
    parent: Any = None,
    project_name: str | None = None,
    tags: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
    enabled: bool | None = None,
) -> Iterator[TracingState]:
    """Scope the parent run and run defaults for the code inside.

    ``parent``: headers (a dict, ASGI pairs, WSGI environ, framework headers), a ``RunTree``, a
    dotted-order string, ``None`` (keep the current run) or ``False`` (no parent: new runs are roots).
    Headers without a valid parent behave like ``False``. ``enabled=False`` turns tracing off inside.
    """
    current = _STATE.get()
    run = current.run
    if parent is not None:
        run = resolve_parent(parent)
    merged_tags = current.tags + tuple(t for t in tags or () if t not in current.tags)
    merged_metadata = {**(current.metadata or {}), **metadata} if metadata else current.metadata
    state = TracingState(
        run=run,
        project_name=project_name or current.project_name,
        tags=merged_tags,
        metadata=merged_metadata,
        enabled=current.enabled if enabled is None else bool(enabled),
    )
    token = _STATE.set(state)
    try:
        yield state
    finally:
        _STATE.reset(token)


def set_state(state: TracingState) -> contextvars.Token[TracingState]:
    """Make ``state`` current; the caller must ``reset_state(token)`` in ``finally``."""
    return _STATE.set(state)


def reset_state(token: contextvars.Token[TracingState]) -> None:
    """Undo ``set_state``."""
    _STATE.reset(token)


@contextlib.contextmanager
def suppress_tracing() -> Iterator[None]:
    """No runs are made and no headers are sent inside (used around our own exporter I/O)."""
    token = _STATE.set(TracingState(enabled=False))
    try:
        yield
    finally:
        _STATE.reset(token)


def bind_context(fn: Callable[..., T]) -> Callable[..., T]:
    """``fn`` bound to the current context, for work submitted to a thread pool.

    ``executor.submit(bind_context(work), arg)`` runs ``work`` under the run that was current at the
    call to ``bind_context``. Each call runs in its own copy, so the bound function may run in several
    threads at once.
    """
    captured = contextvars.copy_context()

    @functools.wraps(fn)
    def bound(*args: Any, **kwargs: Any) -> T:
        return captured.copy().run(fn, *args, **kwargs)

    return bound
