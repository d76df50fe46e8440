"""What never leaves the process: secret-looking query values, hidden inputs/outputs, a user hook.

Rules, applied in this order:

1. Query strings. A parameter whose name contains one of ``SECRET_WORDS`` (any case) is kept with the
   value ``REDACTED``: in a request run's ``query`` input, a client run's ``http.url``, and a captured
   header's value when the header's name looks secret the same way. The request's own ``path`` is kept.
2. Headers never captured, whatever ``capture_headers`` says: ``authorization``, ``cookie``,
   ``set-cookie``, ``proxy-authorization`` and the middleware's ``secret_header``.
3. ``hide_inputs`` / ``hide_outputs`` (``configure(...)``, else ``LANGSMITH_HIDE_INPUTS`` /
   ``LANGSMITH_HIDE_OUTPUTS`` as the LangSmith SDK reads them): ``True`` replaces every run's inputs
   (outputs) with ``{}``; a function receives a copy of the dict and returns what is kept.
4. ``redact`` (``configure(redact=fn)``): called with each finished run, after the rules above and
   before any exporter sees it; it changes the run in place (inputs, outputs, error, metadata, name).

A hiding function or hook that raises fails closed: that run's inputs and outputs are replaced with
``{}`` and the failure is counted and logged (at most one line a minute).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tracing_middleware.core.pipeline import FailureLog
from tracing_middleware.core.run_tree import RunTree

__all__ = ["SECRET_WORDS", "SECRET_NAME", "REDACTED", "Redactor", "redact_query", "secret_name", "make_redactor"]

SECRET_WORDS = ("token", "key", "secret", "sig", "pass", "auth", "credential", "session", "code", "amz-")
"""A query parameter or captured header whose name contains one of these (any case) is redacted."""
REDACTED = "REDACTED"
SECRET_NAME = re.compile("|".join(re.escape(word) for word in SECRET_WORDS), re.IGNORECASE)

Hide = bool | Callable[[dict[str, Any]], dict[str, Any]]


def secret_name(name: str) -> bool:
    """Whether a parameter or header of this name is recorded as ``REDACTED``."""
    return SECRET_NAME.search(name) is not None


def redact_query(query: str) -> str:
    """``query`` with the value of every secret-named parameter replaced by ``REDACTED``."""
    if not query or SECRET_NAME.search(query) is None:  # the common case: nothing to hide
        return query
    parts = []
    for item in query.split("&"):
        key, eq, _value = item.partition("=")
        parts.append(f"{key}={REDACTED}" if eq and SECRET_NAME.search(key) is not None else item)
    return "&".join(parts)


def _check_hide(name: str, value: object) -> None:
    if not isinstance(value, bool) and not callable(value):
        raise TypeError(f"{name} must be True, False or a function taking and returning a dict; got {value!r}")


class Redactor:
    """Applies rules 3 and 4 of the module docstring to each finished run; never raises."""

    def __init__(self, hide_inputs: Hide, hide_outputs: Hide, hook: Callable[[RunTree], Any] | None) -> None:
        _check_hide("hide_inputs", hide_inputs)
        _check_hide("hide_outputs", hide_outputs)
        if hook is not None and not callable(hook):
            raise TypeError(f"redact must be a function taking a RunTree; got {hook!r}")
        self.hide_inputs = hide_inputs
        self.hide_outputs = hide_outputs
        self.hook = hook
        self.failures = FailureLog("redaction failed; the run's inputs and outputs were dropped")

    def __call__(self, run: RunTree) -> None:
        try:
            if self.hide_inputs is not False:
                run.inputs = self._hidden(self.hide_inputs, run.inputs) or {}
            if self.hide_outputs is not False and run.outputs is not None:
                run.outputs = self._hidden(self.hide_outputs, run.outputs)
            if self.hook is not None:
                self.hook(run)
        except Exception as error:  # fail closed: a broken rule must not let the data through
            run.inputs = {}
            run.outputs = {} if run.outputs is not None else None
            self.failures.record(error)

    @staticmethod
    def _hidden(rule: Hide, values: dict[str, Any]) -> dict[str, Any]:
        if rule is True:
            return {}
        assert callable(rule)
        kept = rule(dict(values))
        if not isinstance(kept, dict):
            raise TypeError(f"a hide function must return a dict; got {type(kept).__name__}")
        return kept


def make_redactor(hide_inputs: Hide, hide_outputs: Hide, hook: Callable[[RunTree], Any] | None) -> Redactor | None:
    """A ``Redactor``, or None when no rule is on (the hot path then skips redaction altogether)."""
    if hide_inputs is False and hide_outputs is False and hook is None:
        return None
    return Redactor(hide_inputs, hide_outputs, hook)
