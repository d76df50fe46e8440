"""The LangSmith SDK and our runs in one tree: ``langsmith.traceable``, ``langsmith.trace`` and LangChain.

Ours inside theirs: while one of our runs is current, langsmith's parent variable holds ``LIVE``, a
stand-in for a weak reference which, when langsmith asks (``get_current_run_tree()``, a
``@traceable`` call, a LangChain runnable), answers a langsmith ``RunTree`` mirroring our current run:
its id, trace id, dotted order and project. Nothing is built for the requests that never ask, which
is most of them: the outermost entry costs one ``ContextVar.set``, a nested one a ``ContextVar.get``.

Theirs inside ours: while a langsmith run is current and its dotted order extends our current run's
(or no run of ours is current), ``current_parent()`` answers a ``RunTree`` standing for it, so our
``@traceable``, ``trace()``, client runs and the headers ``instrument()`` sends nest under it.

Where their runs go: the mirror's client is ``_Capture``, and langsmith and LangChain give every run
made under a parent that parent's client. ``_Capture`` sends nothing over the network; it hands each
finished run to our exporters (SQLite, OTLP, our LangSmith exporter...), so one request is one tree
wherever our runs go. Setting a langsmith parent makes langsmith count tracing as on, and this is
why that never sends anything by itself: with ``LANGSMITH_TRACING`` unset no request reaches any
LangSmith endpoint. With it set, LangSmith shows the one tree when our LangSmith exporter is among
the exporters (``TRACING_MIDDLEWARE_EXPORTER=sqlite,langsmith``); without it their runs are also
handed to langsmith's own client, as they would have been, and a warning names that setting. The
user's langsmith client's ``hide_inputs``/``hide_outputs`` (and ``LANGSMITH_HIDE_INPUTS`` /
``LANGSMITH_HIDE_OUTPUTS``) apply to the runs recorded here too (``langsmith_hiding``).

langsmith's ``RunTree.from_headers`` is never called (it sets a process-wide distributed-parent id).
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections import OrderedDict
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

try:
    from langsmith._internal import _context as _ls_context
except ImportError as error:  # pragma: no cover - exercised in a subprocess without the package
    raise ImportError(
        f"the LangSmith bridge needs langsmith ({error.name} is missing): pip install 'tracing-middleware[langsmith]'"
    ) from None

from tracing_middleware.bridges.langsmith_hiding import hide
from tracing_middleware.core import config, ids
from tracing_middleware.core.context import Bridge, TracingState, current_state
from tracing_middleware.core.run_tree import RUN_TYPES, RunTree
from tracing_middleware.core.sampling import is_sampled

__all__ = ["LangSmithBridge", "bridge"]

logger = logging.getLogger("tracing_middleware.bridges")
# langsmith's current-run variable: a weak reference to its RunTree, called to dereference it.
_PARENT: contextvars.ContextVar[Any] = _ls_context._PARENT_RUN_TREE_REF
_parent_get = _PARENT.get
_parent_set = _PARENT.set
_parent_reset = _PARENT.reset
_MAX_PENDING = 10_000  # runs started but not finished that we wait for; the oldest are dropped beyond
_MAX_MIRRORS = 256  # mirrors kept for the runs that asked most recently (a langsmith child holds its own)


class _Live:
    """Takes a weak reference's place in langsmith's parent variable: called, it mirrors our current run.

    The run is the one current *now* (None when none is, or tracing is off here).

    One object stands for every run of ours, so entering a run nested in one of ours sets nothing:
    only the outermost entry (and one inside a langsmith run) puts it in langsmith's variable. Mirrors
    are built on the first call for a run and kept for the most recent runs.
    """

    __slots__ = ("_mirrors", "_lock")

    def __init__(self) -> None:
        self._mirrors: OrderedDict[int, tuple[RunTree, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self) -> Any:
        state = current_state()
        run = state.run
        if run is None or not state.enabled:
            return None
        key = id(run)
        with self._lock:
            found = self._mirrors.get(key)
            if found is not None and found[0] is run:
                self._mirrors.move_to_end(key)
                return found[1]
        try:
            mirror = _mirror(run)
        except Exception:  # never into the user's code: langsmith then sees no parent
            logger.warning("could not build a langsmith RunTree for run %s", run.id, exc_info=True)
            return None
        with self._lock:
            self._mirrors[key] = (run, mirror)  # the run is held too: its id() cannot be reused meanwhile
            if len(self._mirrors) > _MAX_MIRRORS:
                self._mirrors.popitem(last=False)
        return mirror


def _mirror(run: RunTree) -> Any:
    from langsmith.run_trees import RunTree as LangSmithRunTree  # imported by whoever asks for it already

    return LangSmithRunTree(
        name=run.name,
        id=UUID(run.id),
        trace_id=UUID(run.trace_id),
        dotted_order=run.dotted_order,
        parent_run_id=UUID(run.parent_run_id) if run.parent_run_id else None,
        run_type=run.run_type,
        start_time=run.start_time,
        project_name=run.project_name or config.get_settings().project_name,
        tags=list(run.tags),
        extra={"metadata": dict(run.metadata)},
        ls_client=CAPTURE,
        replicas=[],  # every child posts to the capture only, whatever replicas langsmith's context names
    )


def _as_dict(value: Any) -> dict[str, Any] | None:
    if value is None or isinstance(value, dict):
        return value
    return {"output": value}


def _time_us(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return ids.datetime_to_us(value)
    return None


def to_run(fields: dict[str, Any]) -> RunTree | None:
    """One of our RunTrees from the fields langsmith posts for a run; None when they name no valid run."""
    order = fields.get("dotted_order")
    run = RunTree.from_dotted_order(str(order)) if order else None
    if run is None:
        return None
    run.name = str(fields.get("name") or "run")
    run_type = fields.get("run_type")
    run.run_type = run_type if run_type in RUN_TYPES else "chain"
    start = _time_us(fields.get("start_time"))
    if start is not None:
        run.start_us = start
    run.inputs = _as_dict(fields.get("inputs")) or {}
    run.outputs = _as_dict(fields.get("outputs")) or None
    error = fields.get("error")
    run.error = None if error is None else str(error)
    run.tags = [str(tag) for tag in fields.get("tags") or ()]
    extra = fields.get("extra") or {}
    run.metadata = dict(extra.get("metadata") or {}) if isinstance(extra, dict) else {}
    run.events = [event for event in fields.get("events") or () if isinstance(event, dict)]
    run.project_name = fields.get("session_name") or fields.get("project_name")
    end = _time_us(fields.get("end_time"))
    run.end_us = None if end is None else max(end, run.start_us)
    run.sampled = None
    return run


class _Capture:
    """The langsmith client of every run made under our mirror: hands the runs to our exporters."""

    otel_exporter = None  # read by langsmith's traceable: no OpenTelemetry export from this client
    tracing_queue = None

    def __init__(self) -> None:
        self._pending: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._warned = False

    def create_run(self, **fields: Any) -> None:
        """Langsmith's ``Client.create_run``: a run started (or, with ``end_time``, already finished)."""
        self._forward("create_run", fields)
        run_id = str(fields.get("id"))
        if fields.get("end_time") is not None:
            self._record(fields)
            return
        with self._lock:
            self._pending[run_id] = fields
            if len(self._pending) > _MAX_PENDING:
                self._pending.popitem(last=False)

    def update_run(self, run_id: Any, **fields: Any) -> None:
        """Langsmith's ``Client.update_run``: the run ended; recorded with the fields it started with."""
        self._forward("update_run", {"run_id": run_id, **fields})
        with self._lock:
            started = self._pending.pop(str(run_id), {})
        merged = {**started, **{key: value for key, value in fields.items() if value is not None}}
        merged.setdefault("id", run_id)
        self._record(merged)

    def flush(self, *args: Any, **kwargs: Any) -> None:
        """Nothing is buffered here: runs are handed to our exporters as they end."""

    def _record(self, fields: dict[str, Any]) -> None:
        try:
            run = to_run(hide(fields))  # the user's client's hide_inputs/hide_outputs, as it would send it
            if run is None:
                return
            rate = config.get_settings().sample_rate
            run.sampled = True if rate >= 1 else is_sampled(run.trace_id, rate)
            config.record(run)
        except Exception:
            logger.warning("a langsmith run could not be recorded", exc_info=True)

    def _forward(self, method: str, fields: dict[str, Any]) -> None:
        """With LangSmith tracing on and no LangSmith exporter of ours, send their runs as langsmith would."""
        try:
            if not _langsmith_tracing_on() or _exporting_to_langsmith():
                return
            if not self._warned:
                self._warned = True
                logger.warning(
                    "LangSmith tracing is on but tracing_middleware does not export to LangSmith: langsmith runs "
                    "are sent without the request runs they belong to. Add the exporter "
                    "(TRACING_MIDDLEWARE_EXPORTER=sqlite,langsmith) to see one tree in LangSmith."
                )
            from langsmith.run_trees import get_cached_client

            client = _ls_context._CLIENT.get() or get_cached_client()  # the client langsmith would have used
            getattr(client, method)(**fields)
        except Exception:
            logger.warning("a langsmith run could not be sent to LangSmith", exc_info=True)


def _langsmith_tracing_on() -> bool:
    """LangSmith tracing as its environment and global switch say, regardless of any current parent."""
    if _ls_context._GLOBAL_TRACING_ENABLED is not None:
        return _ls_context._GLOBAL_TRACING_ENABLED is True
    from langsmith import utils

    return bool(utils.get_env_var("TRACING_V2", default=utils.get_env_var("TRACING", default="")) == "true")


def _exporting_to_langsmith() -> bool:
    return any(type(e).__name__ == "LangSmithExporter" for e in config.get_settings().exporters)


CAPTURE = _Capture()
LIVE = _Live()


class LangSmithBridge(Bridge):
    """Keeps langsmith's current run and ours in step (see the module docstring)."""

    def __init__(self) -> None:
        self._last: tuple[Any, RunTree | None, RunTree | None] = (None, None, None)
        # Read in C by our context on every run made current: where langsmith's variable holds LIVE
        # nothing is to be done on entry, and with None or LIVE no run of theirs is innermost.
        self.peek = _parent_get
        self.following = (LIVE,)
        self.quiet = (None,)
        self.token_handles = True  # on_enter's handle is the variable's token: reset on exit, in C

    def on_enter(self, state: TracingState) -> Any:
        """Make langsmith's parent follow our state; nothing to do when an enclosing entry already did."""
        if _parent_get() is LIVE:
            return None
        return _parent_set(LIVE)

    def on_exit(self, handle: Any) -> None:
        """Put langsmith's parent back as it was; nothing when exited in another context."""
        try:
            _parent_reset(handle)
        except (ValueError, RuntimeError):  # exited in another context than entered: nothing to undo here
            return

    def innermost_parent(self, run: RunTree | None) -> RunTree | None:
        """Langsmith's current run when it is inside ``run`` (or ``run`` is None), else ``run``."""
        ref = _parent_get()
        if ref is None or ref is LIVE:
            return run
        last_ref, last_run, stand_in = self._last
        if ref is last_ref and last_run is run:
            return stand_in if stand_in is not None else run
        stand_in = _stand_in(ref(), run)
        self._last = (ref, run, stand_in)
        return stand_in if stand_in is not None else run


def _stand_in(theirs: Any, run: RunTree | None) -> RunTree | None:
    """A RunTree standing for langsmith's run ``theirs`` when it is inside ``run``; None otherwise."""
    if theirs is None:
        return None
    order = getattr(theirs, "dotted_order", None)
    if not isinstance(order, str) or not order:
        return None
    if run is not None:
        own = run.dotted_order
        if order == own or not order.startswith(own + "."):
            return None
    parent = RunTree.from_dotted_order(order)
    if parent is None:
        return None
    parent.name = str(getattr(theirs, "name", "") or "run")
    run_type = getattr(theirs, "run_type", "chain")
    parent.run_type = run_type if run_type in RUN_TYPES else "chain"
    parent.project_name = getattr(theirs, "session_name", None) or (run.project_name if run is not None else None)
    if run is not None:
        parent.sampled, parent.tracestate = run.sampled, run.tracestate
    return parent


_bridge: LangSmithBridge | None = None


def bridge() -> LangSmithBridge:
    """The process's one LangSmith bridge."""
    global _bridge
    if _bridge is None:
        _bridge = LangSmithBridge()
    return _bridge
