"""Celery: tasks continue the trace of the code that published them, in one line, ``instrument_celery(app)``.

Publishing a task inside a run writes ``langsmith-trace``, ``baggage`` and ``traceparent`` into the
task message's *headers* (never its args), under a short ``publish <task>`` run. The worker runs each
task as a run named after the task, with its args/kwargs as inputs and its result as outputs; a failure,
a retry and the final state are recorded. Everything goes through Celery's own signals
(``before_task_publish``, ``task_prerun``, ...): no Celery class is patched.

- A task published outside any run starts a trace of its own.
- Trust: like the HTTP adapters, a worker may refuse the publisher's context (``trust`` predicate,
  ``shared_secret``). An untrusted or malformed context gives a new root run, never a failed task.
- A retry keeps the context its first attempt received, so the attempts are siblings (a task that
  came with no context has its retries as children of the attempt that asked for them).
- Recording: runs are flushed when a pool process (prefork) or the worker shuts down.
"""

from __future__ import annotations

import collections
import logging
import threading
import weakref
from typing import Any

try:
    from celery import Celery, signals  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - exercised only without the extra
    raise ImportError("the Celery integration needs Celery: pip install 'tracing-middleware[celery]'") from None

from tracing_middleware.adapters.celery_options import CeleryOptions, TaskInfo
from tracing_middleware.core import config
from tracing_middleware.core.config import flush
from tracing_middleware.core.context import get_tracing_context
from tracing_middleware.core.lifecycle import finish_run, new_run
from tracing_middleware.core.propagation import inject
from tracing_middleware.core.propagation.carriers import BAGGAGE, TRACE, TRACEPARENT, TRACESTATE
from tracing_middleware.core.run_tree import RunTree
from tracing_middleware.core.traceable import trace
from tracing_middleware.middleware.request import _claimed_parent, instrument_outbound_once

__all__ = ["instrument_celery", "uninstrument_celery", "CeleryOptions", "TaskInfo"]

logger = logging.getLogger("tracing_middleware.celery")

_WANTED = (TRACE, BAGGAGE, TRACEPARENT, TRACESTATE)
_MAX_HEADERS = 64
_MAX_PENDING = 10_000  # publish runs waiting for their after_task_publish


class _Active:
    """A task run between ``task_prerun`` and ``task_postrun``."""

    __slots__ = ("span", "run", "options", "error")

    def __init__(self, span: trace, run: RunTree, options: CeleryOptions) -> None:
        self.span = span
        self.run = run
        self.options = options
        self.error: BaseException | None = None


_lock = threading.Lock()
_apps: weakref.WeakKeyDictionary[Celery, CeleryOptions] = weakref.WeakKeyDictionary()
_publisher: list[CeleryOptions] = []  # the options of the last instrumented app, for publishing
_active: dict[str, _Active] = {}
_pending: collections.OrderedDict[str, RunTree] = collections.OrderedDict()


def instrument_celery(app: Celery, **options: Any) -> Celery:
    """Trace the tasks of ``app`` (publishing and running them); returns ``app``.

    Options: see ``CeleryOptions``. Call it where both the publisher and the worker import the app (the
    module holding ``app = Celery(...)``). Calling it again replaces the options.
    """
    if not isinstance(app, Celery):
        raise TypeError(f"instrument_celery takes a celery.Celery application; got {type(app).__name__}")
    valid = [name for name in CeleryOptions.__dataclass_fields__]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise TypeError(f"unknown option(s) {unknown}; valid options: {', '.join(valid)}")
    checked = CeleryOptions(**options)
    config.get_settings()  # exporters set up now, on the importing (main) thread
    with _lock:
        _apps[app] = checked
        _publisher[:] = [checked]
        _connect()
    return app


def uninstrument_celery(app: Celery) -> None:
    """Stop tracing the tasks of ``app``; the signal receivers stay connected but do nothing for it."""
    with _lock:
        options = _apps.pop(app, None)
        if options is not None and _publisher and _publisher[0] is options:
            _publisher[:] = list(_apps.values())[-1:]


_connected = False


def _connect() -> None:
    global _connected
    if _connected:
        return
    _connected = True
    for signal, receiver in (
        (signals.before_task_publish, _before_publish),
        (signals.after_task_publish, _after_publish),
        (signals.task_prerun, _prerun),
        (signals.task_postrun, _postrun),
        (signals.task_failure, _failure),
        (signals.task_retry, _retry),
        (signals.worker_process_shutdown, _drain),
        (signals.worker_shutdown, _drain),
    ):
        signal.connect(receiver, weak=False, dispatch_uid=f"tracing_middleware.{receiver.__name__}")


# -- publishing --------------------------------------------------------------------------------------


def _publishing_options(task_name: str) -> CeleryOptions:
    """The options of the instrumented app that has this task, else of the last one instrumented."""
    if len(_apps) > 1:
        for app, options in list(_apps.items()):
            if task_name in getattr(app, "_tasks", ()):  # the registry, read without finalizing the app
                return options
    return _publisher[0]


def _before_publish(sender: Any = None, headers: Any = None, routing_key: Any = None, **_: Any) -> None:
    try:
        if not _publisher or not isinstance(headers, dict):
            return
        name = str(headers.get("task") or sender or "task")
        options = _publishing_options(name)
        if any(isinstance(key, str) and key.lower() in (TRACE, TRACEPARENT) for key in headers):
            return  # set by hand, or a retry carrying its first attempt's context: respected
        state = get_tracing_context()
        parent = state.run if state.enabled else None
        if parent is None or options.excluded(name):
            return
        settings = config.get_settings()
        if not settings.enabled:
            return
        sent = parent
        task_id = headers.get("id")
        if options.publish_runs and isinstance(task_id, str):
            metadata = {
                "messaging.system": "celery", "messaging.operation": "publish", "celery.task_name": name,
                "celery.task_id": task_id, "messaging.destination.name": str(routing_key or ""),
            }  # fmt: skip
            sent = new_run(state, settings, f"publish {name}", "chain", None, None, metadata, None, parent)
            with _lock:
                _pending[task_id] = sent
                while len(_pending) > _MAX_PENDING:  # published without an after_task_publish (a failed send)
                    _lost_id, lost = _pending.popitem(last=False)
                    finish_run(lost, None, None, RuntimeError("publish not confirmed"))
        inject(headers, sent, w3c=settings.w3c)
        if options.shared_secret is not None:
            headers[options.secret_header] = options.shared_secret
    except Exception:  # a tracing fault must never fail the publish
        logger.warning("tracing skipped for one published task", exc_info=True)


def _after_publish(headers: Any = None, **_: Any) -> None:
    if not isinstance(headers, dict) or not _pending:
        return
    task_id = headers.get("id")
    with _lock:
        run = _pending.pop(task_id, None) if isinstance(task_id, str) else None
    if run is not None:
        finish_run(run, None)


# -- the worker ---------------------------------------------------------------------------------------


def _text_headers(request: Any) -> dict[str, str]:
    """The message's custom headers with text values; anything else a publisher sent is ignored."""
    raw = getattr(request, "headers", None)
    found: dict[str, str] = {}
    if isinstance(raw, dict):
        for key, value in list(raw.items())[: _MAX_HEADERS * 4]:
            if isinstance(key, str) and isinstance(value, str) and len(found) < _MAX_HEADERS:
                found[key] = value
    for name in _WANTED:  # a message built by hand may carry them as plain request fields
        value = getattr(request, name, None) if name not in found else None
        if isinstance(value, str):
            found[name] = value
    return found


def _task_info(task: Any, request: Any, headers: dict[str, str]) -> TaskInfo:
    delivery = getattr(request, "delivery_info", None)
    queue = delivery.get("routing_key") if isinstance(delivery, dict) else None
    origin = getattr(request, "origin", None)
    return TaskInfo(
        name=str(getattr(task, "name", "") or ""),
        id=str(getattr(request, "id", "") or ""),
        queue=queue if isinstance(queue, str) else None,
        origin=origin if isinstance(origin, str) else None,
        headers=headers,
    )


def _options_of(task: Any) -> CeleryOptions | None:
    app = getattr(task, "app", None)
    try:
        return _apps.get(app) if app is not None else None
    except TypeError:  # an unhashable stand-in
        return None


def _prerun(sender: Any = None, task_id: Any = None, task: Any = None, args: Any = None, kwargs: Any = None,
            **_: Any) -> None:  # fmt: skip
    try:
        options = _options_of(task)
        if options is None or not isinstance(task_id, str) or options.excluded(str(getattr(task, "name", ""))):
            return
        if options.instrument_outbound:
            instrument_outbound_once()
        request = task.request
        headers = _text_headers(request)
        carrier = {name: headers[name] for name in _WANTED if name in headers}
        info = _task_info(task, request, headers)
        metadata: dict[str, Any] = {
            "messaging.system": "celery", "celery.task_name": info.name, "celery.task_id": info.id,
            "celery.retries": getattr(request, "retries", 0) or 0,
        }  # fmt: skip
        if info.queue:
            metadata["messaging.destination.name"] = info.queue
        name = info.name
        if options.run_name is not None:
            try:
                name = str(options.run_name(info))
            except Exception:  # a failing name function costs only the name
                name = info.name
        inputs = {"args": list(args or ()), "kwargs": dict(kwargs or {})} if options.record_args else {}
        if carrier:
            parent = RunTree.from_headers(carrier)  # None for a malformed context: a new root
            checks = options.shared_secret is not None or options.trust is not None
            if parent is not None and checks and not options.trusted(info):
                metadata.update(_claimed_parent(carrier))
                parent = None
            span = trace(name, inputs=inputs, metadata=metadata, project_name=options.project_name, parent=parent)
        else:  # no context sent: a new trace in a worker, the caller's run when run eagerly
            span = trace(name, inputs=inputs, metadata=metadata, project_name=options.project_name)
        run = span.__enter__()
        _active[task_id] = _Active(span, run, options)
    except Exception:  # a tracing fault must never fail the task
        logger.warning("tracing skipped for one task", exc_info=True)


def _failure(sender: Any = None, task_id: Any = None, exception: Any = None, **_: Any) -> None:
    active = _active.get(task_id) if isinstance(task_id, str) else None
    if active is not None and isinstance(exception, BaseException):
        active.error = exception


def _retry(sender: Any = None, request: Any = None, reason: Any = None, **_: Any) -> None:
    active = _active.get(getattr(request, "id", None) or "")
    if active is None:
        return
    try:
        text = str(reason)[:2048]
    except Exception:
        text = type(reason).__name__
    active.run.add_event("retry", reason=text, retries=getattr(request, "retries", 0) or 0)
    cause = getattr(reason, "exc", None)
    if isinstance(cause, BaseException):
        active.error = cause


def _postrun(sender: Any = None, task_id: Any = None, retval: Any = None, state: Any = None, **_: Any) -> None:
    active = _active.pop(task_id, None) if isinstance(task_id, str) else None
    if active is None:
        return
    try:
        run = active.run
        run.metadata["celery.state"] = str(state)
        if state == "SUCCESS" and active.options.record_result and retval is not None:
            run.outputs = retval if isinstance(retval, dict) else {"output": retval}
        error = active.error
        active.span.__exit__(None if error is None else type(error), error, None)
    except Exception:
        logger.warning("tracing failed to finish one task run", exc_info=True)


def _drain(**_: Any) -> None:
    """A pool process or the worker is about to exit (a pool process skips atexit): export what is queued."""
    try:
        flush(timeout=5.0)
    except Exception:
        logger.warning("flushing runs at worker shutdown failed", exc_info=True)
