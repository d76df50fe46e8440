"""``@traceable`` and ``trace()``: runs around functions, generators and blocks of code."""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import AsyncGenerator, Callable, Generator
from types import TracebackType
from typing import Any, TypeVar, overload

from tracing_middleware.core import config
from tracing_middleware.core.context import current_state, enter_state, exit_run
from tracing_middleware.core.lifecycle import _NO_PARENT, finish_run, start_run
from tracing_middleware.core.run_tree import RunTree, check_run_type

__all__ = ["traceable", "trace"]

F = TypeVar("F", bound=Callable[..., Any])
# Keys of LangSmith's ``langsmith_extra`` we honour, and those we accept and ignore (its client etc.).
_EXTRA_KEYS = {"parent", "run_tree", "metadata", "tags", "run_id", "name", "project_name", "on_end"}
_IGNORED_KEYS = {"client", "reference_example_id", "run_extra", "invocation_params", "replicas"}
MAX_STREAM_ITEMS = 1000  # a generator's recorded output keeps at most this many items


class _Inputs:
    """Turns a call's arguments into the run's inputs by parameter name, precomputed per function."""

    def __init__(self, func: Callable[..., Any]) -> None:
        self.signature = inspect.signature(func)
        params = list(self.signature.parameters.values())
        self.wants_run_tree = "run_tree" in self.signature.parameters
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        self.simple = all(p.kind in (*positional, inspect.Parameter.KEYWORD_ONLY) for p in params)
        self.names = tuple(p.name for p in params if p.kind in positional)
        self.defaults = {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}
        self.skip_first = bool(params) and params[0].name in ("self", "cls")

    def __call__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        if self.simple and len(args) <= len(self.names):
            inputs = dict(zip(self.names, args, strict=False))
            inputs.update(kwargs)
            for name, default in self.defaults.items():
                inputs.setdefault(name, default)
        else:
            try:
                bound = self.signature.bind_partial(*args, **kwargs)
            except TypeError:  # the call itself will fail the same way; record what was passed
                return {"args": list(args), **kwargs}
            bound.apply_defaults()
            inputs = {}
            for name, value in bound.arguments.items():
                kind = self.signature.parameters[name].kind
                if kind is inspect.Parameter.VAR_KEYWORD:
                    inputs.update(value)
                else:
                    inputs[name] = list(value) if kind is inspect.Parameter.VAR_POSITIONAL else value
        if self.skip_first:
            inputs.pop(self.names[0], None)
        inputs.pop("run_tree", None)
        return inputs


class _Spec:
    """What ``@traceable`` was given, checked once."""

    def __init__(self, func: Callable[..., Any], name: str | None, run_type: str, tags: list[str] | None,
                 metadata: dict[str, Any] | None, project_name: str | None) -> None:  # fmt: skip
        self.name = name or getattr(func, "__name__", "run")
        self.run_type = check_run_type(run_type)
        self.tags = list(tags) if tags else None
        self.metadata = dict(metadata) if metadata else None
        self.project_name = project_name
        self.inputs = _Inputs(func)

    def start(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...] | None:
        extra = kwargs.pop("langsmith_extra", None)
        if not current_state().enabled or not config.get_settings().enabled:
            return None  # before the inputs are built: a disabled call costs two lookups
        tags, metadata, parent, run_id, name, project = (
            self.tags,
            self.metadata,
            _NO_PARENT,
            None,
            self.name,
            self.project_name,
        )
        on_end = None
        if extra:
            unknown = set(extra) - _EXTRA_KEYS - _IGNORED_KEYS
            if unknown:
                raise TypeError(
                    f"langsmith_extra keys must be among {', '.join(sorted(_EXTRA_KEYS))}; got {sorted(unknown)}"
                )
            if extra.get("run_tree") is not None or extra.get("parent") is not None:
                parent = extra.get("run_tree") or extra.get("parent")
            if extra.get("tags"):
                tags = (tags or []) + [t for t in extra["tags"] if t not in (tags or ())]
            if extra.get("metadata"):
                metadata = {**(metadata or {}), **extra["metadata"]}
            run_id = extra.get("run_id")
            name = extra.get("name") or name
            project = extra.get("project_name") or project
            on_end = extra.get("on_end")
        started = start_run(
            str(name), self.run_type, self.inputs(args, kwargs), tags=tags, metadata=metadata,
            project_name=project, parent=parent, run_id=None if run_id is None else str(run_id),
        )  # fmt: skip
        if started is None:
            return None
        if self.inputs.wants_run_tree:
            kwargs["run_tree"] = started[0]
        return (*started, on_end)


def _end(started: tuple[Any, ...], outputs: Any = None, error: BaseException | None = None) -> None:
    run, token, on_end = started
    finish_run(run, token, outputs, error)
    if on_end is not None:
        with contextlib.suppress(Exception):  # a user callback must not change the function's result
            on_end(run)


def _wrap_sync(func: Callable[..., Any], spec: _Spec) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = spec.start(args, kwargs)
        if started is None:
            return func(*args, **kwargs)
        try:
            result = func(*args, **kwargs)
        except BaseException as error:
            _end(started, error=error)
            raise
        _end(started, result)
        return result

    return wrapper


def _wrap_async(func: Callable[..., Any], spec: _Spec) -> Callable[..., Any]:
    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = spec.start(args, kwargs)
        if started is None:
            return await func(*args, **kwargs)
        try:
            result = await func(*args, **kwargs)
        except BaseException as error:
            _end(started, error=error)
            raise
        _end(started, result)
        return result

    return wrapper


def _wrap_generator(func: Callable[..., Any], spec: _Spec) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        started = spec.start(args, kwargs)
        if started is None:
            return (yield from func(*args, **kwargs))
        run, token = started[0], started[1]
        state = current_state()
        exit_run(token)  # between items the caller's context is current, not the run
        items: list[Any] = []
        gen = func(*args, **kwargs)
        sent: Any = None
        thrown: BaseException | None = None
        try:
            while True:
                step = enter_state(state)
                try:
                    item = gen.throw(thrown) if thrown is not None else gen.send(sent)
                finally:
                    exit_run(step)
                thrown = None
                if len(items) < MAX_STREAM_ITEMS:
                    items.append(item)
                try:
                    sent = yield item
                except GeneratorExit:
                    step = enter_state(state)  # its cleanup code runs inside the run, as its body did
                    try:
                        gen.close()
                    finally:
                        exit_run(step)
                    run.add_event("closed", items=len(items))
                    _end((run, None, started[2]), {"output": items})
                    raise
                except BaseException as error:
                    thrown = error
        except StopIteration as stop:
            _end((run, None, started[2]), {"output": items} if stop.value is None else stop.value)
            return stop.value
        except BaseException as error:
            if not isinstance(error, GeneratorExit):
                _end((run, None, started[2]), {"output": items}, error)
            raise

    return wrapper


def _wrap_async_generator(func: Callable[..., Any], spec: _Spec) -> Callable[..., Any]:
    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        started = spec.start(args, kwargs)
        if started is None:
            async for item in func(*args, **kwargs):
                yield item
            return
        run, token = started[0], started[1]
        state = current_state()
        exit_run(token)
        items: list[Any] = []
        agen = func(*args, **kwargs)
        sent: Any = None
        thrown: BaseException | None = None
        try:
            while True:
                step = enter_state(state)
                try:
                    item = await (agen.athrow(thrown) if thrown is not None else agen.asend(sent))
                finally:
                    exit_run(step)
                thrown = None
                if len(items) < MAX_STREAM_ITEMS:
                    items.append(item)
                try:
                    sent = yield item
                except GeneratorExit:
                    step = enter_state(state)
                    try:
                        await agen.aclose()
                    finally:
                        exit_run(step)
                    run.add_event("closed", items=len(items))
                    _end((run, None, started[2]), {"output": items})
                    raise
                except BaseException as error:
                    thrown = error
        except StopAsyncIteration:
            _end((run, None, started[2]), {"output": items})
        except BaseException as error:
            if not isinstance(error, GeneratorExit):
                _end((run, None, started[2]), {"output": items}, error)
            raise

    return wrapper


@overload
def traceable(func: F, /) -> F: ...
@overload
def traceable(
    *, name: str | None = None, run_type: str = "chain", tags: list[str] | None = None,
    metadata: dict[str, Any] | None = None, project_name: str | None = None,
) -> Callable[[F], F]: ...  # fmt: skip
def traceable(
    func: Any = None, /, *, name: str | None = None, run_type: str = "chain", tags: list[str] | None = None,
    metadata: dict[str, Any] | None = None, project_name: str | None = None,
) -> Any:  # fmt: skip
    """Record each call of a function (sync, async, generator or async generator) as a run.

    The run is a child of the current run; inputs are the arguments by parameter name, outputs the
    return value (a non-dict under ``"output"``); exceptions are recorded and re-raised unchanged.
    A call may pass ``langsmith_extra={"parent": headers_or_run, "metadata": ..., "tags": ...,
    "run_id": ...}`` as in LangSmith's SDK. A function with a ``run_tree`` parameter receives its run.
    """

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        spec = _Spec(f, name, run_type, tags, metadata, project_name)
        if inspect.isasyncgenfunction(f):
            return _wrap_async_generator(f, spec)
        if inspect.isgeneratorfunction(f):
            return _wrap_generator(f, spec)
        if inspect.iscoroutinefunction(f):
            return _wrap_async(f, spec)
        return _wrap_sync(f, spec)

    if func is not None:
        if not callable(func):
            raise TypeError("traceable takes a function, or keyword options: traceable(name=..., run_type=...)")
        return decorate(func)
    check_run_type(run_type)
    return decorate


class trace:
    """A run around a block: ``with trace("step") as run:`` or ``async with trace("step") as run:``.

    Set outputs with ``run.end(outputs=...)`` inside the block; an exception is recorded on the run
    and propagates unchanged.
    """

    def __init__(
        self, name: str, run_type: str = "chain", *, inputs: dict[str, Any] | None = None,
        tags: list[str] | None = None, metadata: dict[str, Any] | None = None,
        project_name: str | None = None, parent: Any = _NO_PARENT, run_id: str | None = None,
    ) -> None:  # fmt: skip
        self._args = (name, check_run_type(run_type), inputs)
        self._options = {
            "tags": tags,
            "metadata": metadata,
            "project_name": project_name,
            "parent": parent,
            "run_id": run_id,
        }
        self._started: tuple[RunTree, Any] | None = None

    def __enter__(self) -> RunTree:
        self._started = start_run(*self._args, **self._options)
        if self._started is None:  # tracing is off: a stand-in run that is never recorded
            return RunTree(self._args[0], self._args[1])
        return self._started[0]

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if self._started is not None:
            run, token = self._started
            self._started = None
            finish_run(run, token, None, error)

    async def __aenter__(self) -> RunTree:
        return self.__enter__()

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(kind, error, tb)
