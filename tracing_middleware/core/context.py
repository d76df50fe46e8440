"""The current run, in one ContextVar: ``tracing_context``, ``get_current_run_tree``, ``bind_context``.

The variable is always set with a token and reset with it in ``finally``, so a request, a task or a
thread never sees another's run. asyncio tasks copy the context when they are created, so they inherit
the current run by themselves; a thread pool does not, which is what ``bind_context`` is for.

This module is the only code that makes a run current or reads the innermost parent. The rest of the
package goes through:

- ``enter_state(state) -> token`` / ``enter_run(run, under) -> token``: make a state (or ``run`` with the
  defaults of ``under``) current; ``exit_run(token)`` undoes it, in ``finally``, in the same context.
- ``current_state()``: the current ``TracingState``; ``current_parent(state)``: the run new work goes
  under (None when tracing is off in this context or there is no run).

Bridges to other tracers (``register_bridge`` / ``unregister_bridge``)
--------------------------------------------------------------------
A bridge lets an in-process foreign tracer (LangSmith's SDK, OpenTelemetry) see our current run and
lets us see its own. Subclass ``Bridge`` and override what is needed:

- ``on_enter(state) -> handle``: called right after ``state`` became current (``state.run`` may be None:
  ``tracing_context(parent=False)``, ``suppress_tracing``). Return anything, e.g. an OpenTelemetry
  ``context.attach`` token or the token of langsmith's parent variable; it is given back to
- ``on_exit(handle)``: called just before the state made current with it is undone, bridges in the
  reverse order of entry; not called for a ``None`` handle (nothing to undo: e.g. the foreign tracer
  already follows our state, set up by an enclosing run's entry). It may run in another context than
  ``on_enter`` (a generator finished elsewhere); it must then do nothing harmful.
- ``innermost_parent(run) -> RunTree | None``: given our current run (or None), return the run new work
  should go under: ``run`` itself, or a ``RunTree`` standing for the foreign tracer's current span/run
  when that one is innermost (e.g. ``RunTree.from_dotted_order(...)`` of langsmith's current run).
  Consulted by ``current_parent`` (``@traceable``, ``trace``, the outbound clients),
  ``get_current_run_tree`` and ``bridged_parent`` (the middleware, for the caller's run), in
  registration order, each bridge seeing the previous one's answer.

Entering re-runs for every step of a traced generator, so hooks must be cheap: build expensive mirrors
lazily. Three optional attributes spare the hooks' calls on the common paths, in C: ``peek`` (a
callable reading the foreign tracer's current value, e.g. a ContextVar's getter); ``following``, the
values of ``peek()`` meaning the tracer already follows our state (``on_enter`` is then not called:
it would have nothing to do) and, with ``quiet``, those meaning it has nothing innermost
(``innermost_parent`` is then not called: it would answer ``run``). Values are matched with ``in``
(identity, then equality); the sequences are read when the bridge is registered. ``token_handles = True``
says every handle is a ``contextvars.Token``: it is reset on exit without calling ``on_exit`` (and
silently not, in another context). A hook that raises is logged once and otherwise ignored; it
never reaches the user's code. With no bridge registered, each hook point costs one falsy check. A
state entered while bridges were registered is exited through them even if they were unregistered
meanwhile.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import itertools
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple, TypeVar

from tracing_middleware.core.printable import get_logger
from tracing_middleware.core.run_tree import RunTree

__all__ = [
    "tracing_context",
    "get_current_run_tree",
    "get_tracing_context",
    "bind_context",
    "suppress_tracing",
    "TracingState",
    "RunToken",
    "Bridge",
    "register_bridge",
    "unregister_bridge",
    "registered_bridges",
    "enter_state",
    "enter_run",
    "exit_run",
    "current_state",
    "set_state",
    "reset_state",
    "current_parent",
    "bridged_parent",
]

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
_state_get = _STATE.get
_state_set = _STATE.set
_state_reset = _STATE.reset
logger = get_logger("tracing_middleware.context")


class Bridge:
    """A foreign tracer's hooks into our context; every method may be overridden (see the module docstring)."""

    peek: Callable[[], Any] | None = None
    """Optional: reads the foreign tracer's current value (e.g. a ContextVar's C getter), to skip hooks."""
    following: Sequence[Any] = ()
    """Values of ``peek()`` meaning the tracer already follows our state: ``on_enter`` would do nothing."""
    quiet: Sequence[Any] = ()
    """Values of ``peek()`` besides ``following`` meaning nothing of the tracer's is innermost."""
    token_handles = False
    """True: every handle is a ``contextvars.Token``, reset by us on exit without calling ``on_exit``."""

    def on_enter(self, state: TracingState) -> Any:
        """``state`` just became current; the result is handed to ``on_exit``."""
        return None

    def on_exit(self, handle: Any) -> None:
        """The state entered with ``handle`` is about to stop being current."""

    def innermost_parent(self, run: RunTree | None) -> RunTree | None:
        """The run new work goes under, given our current ``run``."""
        return run


_bridges: tuple[Bridge, ...] = ()  # replaced whole, never mutated: readers need no lock
# Bound hooks of the bridges that override them, kept with the registry: the hot paths skip the
# attribute lookups, and a bridge that keeps a default hook costs no call for it.
# (peek, skip, hook, bridge): the hook is not called while ``peek()`` returns one of ``skip``.
_enter_hooks: tuple[tuple[Callable[[], Any], tuple[Any, ...], Callable[[TracingState], Any], Bridge], ...] = ()
_parent_hooks: tuple[
    tuple[Callable[[], Any], tuple[Any, ...], Callable[[RunTree | None], RunTree | None], Bridge], ...
] = ()
_never = itertools.repeat(object()).__next__  # the peek of a bridge without one: matches no skip value, in C
_failed: set[tuple[int, str]] = set()
_registry_lock = threading.Lock()


def _install(bridges: tuple[Bridge, ...]) -> None:
    global _bridges, _enter_hooks, _parent_hooks
    _enter_hooks = tuple(
        (b.peek or _never, tuple(b.following) if b.peek else (), b.on_enter, b)
        for b in bridges
        if type(b).on_enter is not Bridge.on_enter
    )
    _parent_hooks = tuple(
        (b.peek or _never, (*b.following, *b.quiet) if b.peek else (), b.innermost_parent, b)
        for b in bridges
        if type(b).innermost_parent is not Bridge.innermost_parent
    )
    _bridges = bridges


def register_bridge(bridge: Bridge) -> None:
    """Tell ``bridge`` about every run made current from now on (registering twice is a no-op)."""
    if not isinstance(bridge, Bridge):
        raise TypeError(f"bridge must be a tracing_middleware.core.context.Bridge; got {type(bridge).__name__}")
    with _registry_lock:
        if bridge not in _bridges:
            _install((*_bridges, bridge))


def unregister_bridge(bridge: Bridge) -> None:
    """Stop telling ``bridge``; unknown bridges are ignored."""
    with _registry_lock:
        _install(tuple(b for b in _bridges if b is not bridge))


def registered_bridges() -> tuple[Bridge, ...]:
    """The registered bridges, in registration order."""
    return _bridges


def _hook_failed(bridge: Bridge, hook: str) -> None:
    key = (id(bridge), hook)
    if key not in _failed:
        _failed.add(key)
        logger.warning("tracing bridge %r failed in %s; ignored", type(bridge).__name__, hook, exc_info=True)


class _Bridged(tuple):  # type: ignore[type-arg]
    """The token of a state entered while bridges were registered: ours and each bridge's handle.

    ``(token, (bridge, handle), ...)`` in order of entry. A tuple subclass: made and read in C, no
    Python-level constructor on the path of every outermost run.
    """

    __slots__ = ()


RunToken = contextvars.Token[TracingState] | _Bridged
"""What ``enter_state``/``enter_run`` return and ``exit_run`` takes; opaque to callers."""


def enter_state(state: TracingState) -> RunToken:
    """Make ``state`` (its run and defaults) current; the caller must ``exit_run(token)`` in ``finally``."""
    token = _state_set(state)
    if not _enter_hooks:
        return token
    # Inline rather than in a helper: this runs for every run made current while a bridge is on.
    handles: list[Any] | None = None
    for peek, skip, on_enter, bridge in _enter_hooks:
        try:
            if peek() in skip:
                continue
            handle = on_enter(state)
        except Exception:
            _hook_failed(bridge, "on_enter")
            continue
        if handle is not None:
            if handles is None:
                handles = [token]
            handles.append((bridge, handle))
    # Every bridge had nothing to undo (the common case for nested runs): the plain token will do.
    return token if handles is None else _Bridged(handles)


def enter_run(run: RunTree | None, under: TracingState | None = None) -> RunToken:
    """Make ``run`` current with the defaults (project, tags, metadata, enabled) of ``under`` or the current state."""
    state = under if under is not None else _state_get()
    return enter_state(TracingState(run, state.project_name, state.tags, state.metadata, state.enabled))


def exit_run(token: RunToken) -> None:
    """Undo ``enter_state``/``enter_run``: the state current before it is current again.

    ``ValueError`` when called in another context than the one entered (as ``ContextVar.reset``).
    """
    if token.__class__ is not _Bridged:
        _state_reset(token)  # type: ignore[arg-type]
        return
    index = len(token) - 1
    while index:
        bridge, handle = token[index]
        index -= 1
        if bridge.token_handles:
            try:
                handle.var.reset(handle)
            except (ValueError, RuntimeError):
                pass  # exited in another context than entered (a generator closed elsewhere): nothing to undo
            except Exception:
                _hook_failed(bridge, "on_exit")
            continue
        try:
            bridge.on_exit(handle)
        except Exception:
            _hook_failed(bridge, "on_exit")
    _state_reset(token[0])


# The current tracing state (run, project, tags, metadata, enabled): the ContextVar's own C getter, so
# the hot paths pay no extra call for going through this module.
current_state: Callable[[], TracingState] = _STATE.get

# ``set_state(state)`` / ``reset_state(token)``: our variable alone, no bridge hooks: for a moment the
# code must run outside a run without the cost of leaving and re-entering it (the ASGI middleware
# sends a response's last message so, for what the server schedules then copies the context).
set_state: Callable[[TracingState], contextvars.Token[TracingState]] = _STATE.set
reset_state: Callable[[contextvars.Token[TracingState]], None] = _STATE.reset


def current_parent(state: TracingState | None = None) -> RunTree | None:
    """The run new work goes under: the current run (or a bridge's foreign one); None when tracing is off here."""
    if state is None:
        state = _state_get()
    if not state.enabled:
        return None
    if not _parent_hooks:
        return state.run
    run = state.run
    for peek, skip, innermost_parent, bridge in _parent_hooks:  # inline: asked for every run made while a bridge is on
        try:
            if peek() in skip:
                continue
            run = innermost_parent(run)
        except Exception:
            _hook_failed(bridge, "innermost_parent")
    return run


def bridged_parent(run: RunTree | None) -> RunTree | None:
    """``run`` as the registered bridges answer it: a foreign tracer's innermost run or span, or ``run``.

    For a parent not (yet) current, e.g. the caller's run read from a request's headers, asked before
    the request run is made under it.
    """
    for peek, skip, innermost_parent, bridge in _parent_hooks:  # inline: asked for every request while a bridge is on
        try:
            if peek() in skip:
                continue
            run = innermost_parent(run)
        except Exception:
            _hook_failed(bridge, "innermost_parent")
    return run


def get_tracing_context() -> TracingState:
    """The current tracing state (run, project, tags, metadata, enabled)."""
    return _state_get()


def get_current_run_tree() -> RunTree | None:
    """The run the current code executes in, or None outside any run.

    Inside a foreign tracer's run or span started under ours (a ``langsmith.traceable`` function, an
    OpenTelemetry span) that one is innermost, so its stand-in is returned: ``to_headers()`` then
    names the run the code really runs in, as the same call of the LangSmith SDK would.
    """
    run = _state_get().run
    if _parent_hooks:
        return bridged_parent(run)
    return run


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
    current = _state_get()
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
    token = enter_state(state)
    try:
        yield state
    finally:
        exit_run(token)


@contextlib.contextmanager
def suppress_tracing() -> Iterator[None]:
    """No runs are made and no headers are sent inside (used around our own exporter I/O)."""
    token = enter_state(TracingState(enabled=False))
    try:
        yield
    finally:
        exit_run(token)


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
