"""The options of the Celery integration and what a trust or naming function sees of a task message.

No Celery import here: the options are checked before Celery is touched.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["CeleryOptions", "TaskInfo"]


@dataclass(frozen=True)
class TaskInfo:
    """What a trust predicate or a run-name function sees of a task message."""

    name: str
    id: str
    queue: str | None
    origin: str | None  # the publisher's hostname, as Celery sends it
    headers: Mapping[str, str]  # the message's custom headers with text values (ours included)

    def header(self, name: str) -> str | None:
        """A custom header's value, or None."""
        return self.headers.get(name) or self.headers.get(name.lower())


@dataclass(frozen=True)
class CeleryOptions:
    """Options of ``instrument_celery``; names shared with the HTTP adapters mean the same there.

    - ``exclude_tasks``: task names not traced, exact or a prefix ending in ``*`` (``"celery.*"``).
    - ``trust``: a predicate on ``TaskInfo``; ``shared_secret``/``secret_header``: the message must carry
      this header with this value (the publisher, instrumented with the same secret, adds it). When any
      is set and fails, the publisher's context is not continued: a new root, with the claimed parent
      kept as a link in the metadata.
    - ``run_name``: ``TaskInfo -> str`` (default: the task's name); ``project_name``: the runs' project.
    - ``publish_runs``: a ``publish <task>`` run around each publish, the parent of the task's run.
    - ``record_args`` / ``record_result``: the task's args/kwargs as inputs, its result as outputs.
    - ``instrument_outbound``: patch httpx/requests/aiohttp at the first task, as the web adapters do.
    """

    exclude_tasks: Sequence[str] = ()
    trust: Callable[[TaskInfo], bool] | None = None
    shared_secret: str | None = None
    secret_header: str = "x-tracing-secret"
    run_name: Callable[[TaskInfo], str] | None = None
    project_name: str | None = None
    publish_runs: bool = True
    record_args: bool = True
    record_result: bool = True
    instrument_outbound: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.exclude_tasks, str):
            raise TypeError("exclude_tasks takes a list of task names, not one string")
        object.__setattr__(self, "exclude_tasks", tuple(self.exclude_tasks))
        for name in ("run_name", "trust"):
            value = getattr(self, name)
            if value is not None and not callable(value):
                raise TypeError(f"{name} must be a function taking a TaskInfo")
        if self.shared_secret is not None and (not isinstance(self.shared_secret, str) or not self.shared_secret):
            raise ValueError("shared_secret must be a non-empty string")
        for name in ("publish_runs", "record_args", "record_result", "instrument_outbound"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False")

    def excluded(self, task_name: str) -> bool:
        """True for a task not to trace: an exact name, or a prefix ending in ``*`` (``"celery.*"``)."""
        return any(task_name.startswith(p[:-1]) if p.endswith("*") else task_name == p for p in self.exclude_tasks)

    def trusted(self, info: TaskInfo) -> bool:
        """Whether the publisher's context may be continued. Never raises."""
        try:
            if self.shared_secret is not None:
                sent = info.header(self.secret_header) or ""
                if not hmac.compare_digest(sent.encode("utf-8", "replace"), self.shared_secret.encode()):
                    return False
            return self.trust is None or bool(self.trust(info))
        except Exception:  # a failing predicate: do not trust
            return False
