"""RunTree: one unit of work in a trace, as plain data. No I/O happens here."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tracing_middleware.core import ids
from tracing_middleware.core import runtime as _rt
from tracing_middleware.core.propagation import carriers, codec, traceparent

__all__ = ["RunTree", "RUN_TYPES"]

RUN_TYPES = ("chain", "llm", "tool", "retriever", "embedding", "prompt", "parser")


def check_run_type(run_type: str) -> str:
    """``run_type`` if LangSmith knows it; ``ValueError`` naming the valid ones otherwise."""
    if run_type not in RUN_TYPES:
        raise ValueError(f"run_type must be one of {', '.join(RUN_TYPES)}; got {run_type!r}")
    return run_type


def wrap_outputs(outputs: Any) -> dict[str, Any] | None:
    """Outputs as LangSmith stores them: a dict as is, anything else under ``"output"``."""
    if outputs is None or isinstance(outputs, dict):
        return outputs
    return {"output": outputs}


_new = object.__new__


def _fill(
    run: RunTree, run_id: str, trace_id: str, parent_run_id: str | None, name: str, run_type: str, start_us: int,
    inputs: dict[str, Any], tags: list[str], metadata: dict[str, Any], project_name: str | None,
    sampled: bool | None, tracestate: str | None, trace_random: bool, forwarded_baggage: str | None,
    otel_parent_span_id: str | None, remote_span_id: str | None, order: str | None, parent_order: str | None,
) -> None:  # fmt: skip
    """Every slot of a new run, taken as given: the one constructor path of all four ways to make one.

    ``RunTree()``, ``root``, ``create_child`` and ``from_found`` each compute their values and call this.
    """
    run.id = run_id
    run.trace_id = trace_id
    run.parent_run_id = parent_run_id
    run.name = name
    run.run_type = run_type
    run.start_us = start_us
    run.end_us = None
    run.inputs = inputs
    run.outputs = None
    run.error = None
    run.tags = tags
    run.metadata = metadata
    run.project_name = project_name
    run.events = []
    run.sampled = sampled  # None: not decided yet (start_run decides by trace id)
    run.tracestate = tracestate
    run.trace_random = trace_random  # W3C level 2: we made the trace id, its low 7 bytes are random
    run.forwarded_baggage = forwarded_baggage  # other vendors' baggage members received upstream
    run.otel_parent_span_id = otel_parent_span_id
    run._remote_span_id = remote_span_id
    run._order = order
    run._parent_order = parent_order


class RunTree:
    """A run: ids and dotted order, name and type, timing, inputs/outputs/error, tags and metadata.

    Ids are canonical lowercase UUID strings (UUIDv7 for runs made here). Times are kept as epoch
    microseconds (``start_us``/``end_us``); ``start_time``/``end_time`` give UTC datetimes.
    """

    __slots__ = (
        "_order",
        "_parent_order",
        "_remote_span_id",
        "end_us",
        "error",
        "events",
        "forwarded_baggage",
        "id",
        "inputs",
        "metadata",
        "name",
        "otel_parent_span_id",
        "outputs",
        "parent_run_id",
        "project_name",
        "run_type",
        "sampled",
        "start_us",
        "tags",
        "trace_id",
        "trace_random",
        "tracestate",
    )  # fmt: skip

    id: str
    trace_id: str
    parent_run_id: str | None
    name: str
    run_type: str
    start_us: int
    end_us: int | None
    inputs: dict[str, Any]
    outputs: dict[str, Any] | None
    error: str | None
    tags: list[str]
    metadata: dict[str, Any]
    project_name: str | None
    events: list[dict[str, Any]]
    sampled: bool | None
    tracestate: str | None
    trace_random: bool
    forwarded_baggage: str | None
    otel_parent_span_id: str | None
    _remote_span_id: str | None
    _order: str | None
    _parent_order: str | None

    def __init__(
        self,
        name: str = "run",
        run_type: str = "chain",
        *,
        inputs: dict[str, Any] | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        project_name: str | None = None,
        id: str | None = None,
        start_time: datetime | None = None,
    ) -> None:
        """A new root run (use ``create_child`` for a child, ``from_headers`` for a remote parent)."""
        run_id = str(id).lower() if id is not None else ids.new_trace_id()
        _fill(
            self, run_id, run_id, None, name, check_run_type(run_type),
            ids.datetime_to_us(start_time) if start_time is not None else ids.now_us(),
            inputs if inputs is not None else {}, list(tags) if tags else [], dict(metadata) if metadata else {},
            project_name, None, None, id is None, None, None, None, None, None,
        )  # fmt: skip

    @classmethod
    def root(
        cls,
        name: str,
        run_type: str,
        inputs: dict[str, Any] | None,
        tags: list[str] | None,
        metadata: Mapping[str, Any] | None,
        project_name: str | None,
        run_id: str | None = None,
    ) -> RunTree:
        """``RunTree(name, run_type, inputs=..., ...)`` for the hot path: positional, no datetime handling."""
        run = _new(cls)
        new_id = str(run_id).lower() if run_id is not None else ids.new_trace_id()
        _fill(
            run, new_id, new_id, None, name, run_type if run_type == "chain" else check_run_type(run_type),
            ids.now_us(), inputs if inputs is not None else {}, list(tags) if tags else [],
            dict(metadata) if metadata else {}, project_name, None, None, run_id is None, None, None, None, None,
            None,
        )  # fmt: skip
        return run

    # -- tree ---------------------------------------------------------------------------------------

    def create_child(
        self,
        name: str,
        run_type: str = "chain",
        *,
        inputs: dict[str, Any] | None = None,
        tags: list[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        project_name: str | None = None,
        run_id: str | None = None,
    ) -> RunTree:
        """A child run. It starts now, or at the parent's start if the parent's clock is ahead of ours."""
        child = _new(RunTree)
        now = ids.now_us()
        start = self.start_us
        own_tags = self.tags
        _fill(
            child, str(run_id).lower() if run_id is not None else ids.new_id(), self.trace_id, self.id, name,
            run_type if run_type == "chain" else check_run_type(run_type), now if now >= start else start,
            inputs if inputs is not None else {},
            own_tags + [t for t in tags if t not in own_tags] if tags else list(own_tags),
            {**self.metadata, **metadata} if metadata else dict(self.metadata), project_name or self.project_name,
            self.sampled, self.tracestate, self.trace_random, self.forwarded_baggage, self._remote_span_id, None,
            None, self._order or self.dotted_order,
        )  # fmt: skip
        return child

    @property
    def dotted_order(self) -> str:
        """The run's position in its trace: the parent's dotted order, ``.``, then its own segment."""
        order = self._order
        if order is None:
            own = ids.format_ts(self.start_us) + self.id
            order = own if self._parent_order is None else f"{self._parent_order}.{own}"
            self._order = order
        return order

    @property
    def span_id(self) -> str:
        """The W3C/OTLP span id (16 hex): the last 8 bytes of the run id."""
        return self._remote_span_id or traceparent.span_id_of(self.id)

    @property
    def parent_span_id(self) -> str | None:
        """The W3C/OTLP span id of the parent, or None for a root."""
        if self.otel_parent_span_id is not None:
            return self.otel_parent_span_id
        return traceparent.span_id_of(self.parent_run_id) if self.parent_run_id else None

    @property
    def start_time(self) -> datetime:
        """When the run started (UTC)."""
        return ids.us_to_datetime(self.start_us)

    @property
    def end_time(self) -> datetime | None:
        """When the run ended (UTC), or None while it runs."""
        return None if self.end_us is None else ids.us_to_datetime(self.end_us)

    # -- recording ----------------------------------------------------------------------------------

    def end(
        self, outputs: Any = None, error: str | BaseException | None = None, end_time: datetime | None = None
    ) -> None:
        """Mark the run finished; outputs are wrapped as LangSmith does; never ends before it started."""
        end_us = ids.datetime_to_us(end_time) if end_time is not None else ids.now_us()
        self.end_us = end_us if end_us >= self.start_us else self.start_us
        if outputs is not None:
            self.outputs = wrap_outputs(outputs)
        if error is not None:
            self.error = error if isinstance(error, str) else f"{type(error).__name__}: {error}"

    def add_tags(self, *tags: str) -> None:
        """Add tags not yet present."""
        self.tags.extend(t for t in tags if t not in self.tags)

    def add_metadata(self, metadata: Mapping[str, Any]) -> None:
        """Merge keys into the run's metadata."""
        self.metadata.update(metadata)

    def add_event(self, name: str, **attributes: Any) -> None:
        """Record a point-in-time event on the run."""
        self.events.append({"name": name, "time": ids.us_to_datetime(ids.now_us()).isoformat(), "kwargs": attributes})

    # -- wire formats -------------------------------------------------------------------------------

    def to_headers(self, *, w3c: bool | None = None) -> dict[str, str]:
        """``langsmith-trace``, ``baggage`` and ``traceparent``/``tracestate``.

        ``w3c=False`` (or ``configure(w3c=False)``) leaves out the W3C headers.
        """
        # The properties inlined: this runs once per outgoing request.
        return codec.outgoing(
            self._order or self.dotted_order, self.trace_id, self._remote_span_id or traceparent.span_id_of(self.id),
            self.metadata, self.tags, self.project_name,
            w3c=_rt.current.emit_w3c if w3c is None else w3c, sampled=self.sampled, tracestate=self.tracestate,
            random=self.trace_random, forwarded=self.forwarded_baggage,
        )  # fmt: skip

    @classmethod
    def from_headers(cls, headers: Any) -> RunTree | None:
        """The caller's run from incoming headers (any carrier), or None. Never raises.

        As in LangSmith's SDKs the result stands for the *remote* run: its ``id`` and ``dotted_order``
        are the sender's, and ``create_child()`` continues the trace under it.
        """
        return cls.from_found(carriers.read_headers(headers))

    @classmethod
    def from_found(cls, found: carriers.Found) -> RunTree | None:
        """``from_headers`` for headers already read off their carrier with ``carriers.read_headers``."""
        if not found:  # no tracing header at all: the common case of a request from outside
            return None
        remote = codec.remote_parent(found)
        if remote is None:
            return None
        run = _new(cls)
        _fill(
            run, remote.run_id, remote.trace_id, remote.parent_run_id, "parent", "chain", remote.start_us, {},
            remote.tags, remote.metadata, remote.project_name, remote.sampled, remote.tracestate, remote.random,
            remote.baggage, None, remote.otel_span_id, remote.dotted_order, None,
        )  # fmt: skip
        return run

    @classmethod
    def from_dotted_order(cls, dotted_order: str) -> RunTree | None:
        """The run a ``langsmith-trace`` value names, or None when it is invalid."""
        return cls.from_headers({carriers.TRACE: dotted_order})

    def to_dict(self) -> dict[str, Any]:
        """The run in LangSmith's run schema (times as ISO 8601 strings)."""
        end = self.end_time
        return {
            "id": self.id,
            "trace_id": self.trace_id,
            "parent_run_id": self.parent_run_id,
            "dotted_order": self.dotted_order,
            "name": self.name,
            "run_type": self.run_type,
            "start_time": self.start_time.isoformat(),
            "end_time": end.isoformat() if end is not None else None,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "error": self.error,
            "tags": list(self.tags),
            "extra": {"metadata": dict(self.metadata)},
            "events": list(self.events),
            "session_name": self.project_name,
        }

    def __repr__(self) -> str:
        return f"RunTree(id={self.id!r}, name={self.name!r}, run_type={self.run_type!r}, dotted_order={self._order!r})"
