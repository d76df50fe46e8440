"""A run's life under the current context: start, end, record (``@traceable``, request and client runs)."""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Mapping
from typing import Any

from tracing_middleware.core import config, ids
from tracing_middleware.core import runtime as _rt
from tracing_middleware.core.context import (
    RunToken,
    TracingState,
    current_parent,
    current_state,
    enter_state,
    exit_run,
    resolve_parent,
)
from tracing_middleware.core.outbound import switch_outbound_on
from tracing_middleware.core.run_tree import RunTree, wrap_outputs
from tracing_middleware.core.sampling import is_sampled

__all__ = ["start_run", "new_run", "end_run", "finish_run", "fail", "format_error"]

_NO_PARENT = object()


def start_run(
    name: str,
    run_type: str,
    inputs: dict[str, Any] | None,
    *,
    tags: list[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    project_name: str | None = None,
    parent: Any = _NO_PARENT,
    run_id: str | None = None,
) -> tuple[RunTree, RunToken] | None:
    """Make a run as a child of ``parent`` (default: the current run) and make it current.

    Returns None when tracing is off here; otherwise the run and the token for ``finish_run``.
    """
    state = current_state()
    if not state.enabled:
        return None
    settings = config.get_settings()
    if not settings.enabled:
        return None
    parent_run = current_parent(state) if parent is _NO_PARENT else resolve_parent(parent)
    if parent_run is None and _rt.current.outbound_pending:  # a plain script's first run: as adapters do
        switch_outbound_on()
    run = new_run(state, settings, name, run_type, inputs, tags, metadata, project_name, parent_run, run_id)
    return run, enter_state(TracingState(run, state.project_name, state.tags, state.metadata, state.enabled))


def new_run(
    state: TracingState,
    settings: config.Settings,
    name: str,
    run_type: str,
    inputs: dict[str, Any] | None,
    tags: list[str] | None,
    metadata: Mapping[str, Any] | None,
    project_name: str | None,
    parent_run: RunTree | None,
    run_id: str | None = None,
) -> RunTree:
    """The run ``start_run`` makes under ``state`` (tracing on), without making it current."""
    if state.tags:
        tags = list(state.tags) + [t for t in tags or () if t not in state.tags]
    if state.metadata:
        metadata = {**state.metadata, **metadata} if metadata else state.metadata
    project = project_name or state.project_name
    if parent_run is not None:
        run = parent_run.create_child(
            name, run_type, inputs=inputs, tags=tags, metadata=metadata, project_name=project, run_id=run_id
        )
    else:
        run = RunTree.root(name, run_type, inputs, tags, metadata, project or settings.project_name, run_id)
    if run.sampled is None:
        rate = settings.sample_rate
        run.sampled = True if rate >= 1 else is_sampled(run.trace_id, rate)
    return run


def format_error(error: BaseException) -> str:
    """``Type: message`` and the traceback, as a run's ``error``."""
    trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return f"{type(error).__name__}: {error}\n\n{trace}"


def fail(run: RunTree, error: BaseException) -> None:
    """Record an exception on ``run``: the error text and an ``exception`` event."""
    run.error = format_error(error)
    run.add_event(
        "exception",
        **{"exception.type": type(error).__name__, "exception.message": str(error)},
    )


def end_run(run: RunTree, outputs: Any = None, error: BaseException | None = None) -> None:
    """The one end-and-record step: record ``error``, end ``run`` now, set ``outputs``, hand it to the exporters.

    A run already ended keeps its end time unless ``outputs`` are given (as ``RunTree.end`` would);
    the end is never before the start.
    """
    if error is not None:
        fail(run, error)
    if run.end_us is None or outputs is not None:
        now = ids.now_us()
        run.end_us = now if now >= run.start_us else run.start_us
        if outputs is not None:
            run.outputs = wrap_outputs(outputs)
    config.record(run)


def finish_run(
    run: RunTree,
    token: RunToken | None,
    outputs: Any = None,
    error: BaseException | None = None,
) -> None:
    """Restore the previous current run, then ``end_run``."""
    if token is not None:
        # Finished in another context (a generator closed elsewhere): there is nothing to restore.
        with contextlib.suppress(ValueError):
            exit_run(token)
    end_run(run, outputs, error)
