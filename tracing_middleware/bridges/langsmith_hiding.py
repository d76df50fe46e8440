"""LangSmith's hiding settings applied to the langsmith runs the bridge records.

Runs made under our mirror go to the bridge's stand-in client, not to the user's langsmith
``Client``, so that client's ``hide_inputs`` / ``hide_outputs`` (callables or booleans) and its
``anonymizer`` would be bypassed. They are applied here, as the client would before sending: the
client current in langsmith's context (``tracing_context(client=...)``), else the one set with
``langsmith.configure(client=...)``, else langsmith's cached default client if one was made; with
none of these, ``LANGSMITH_HIDE_INPUTS`` / ``LANGSMITH_HIDE_OUTPUTS`` (``true``: hidden) decide.
A hiding function that fails hides everything it was given: nothing unprocessed is recorded.
"""

from __future__ import annotations

import logging
from typing import Any

from langsmith import utils as ls_utils
from langsmith._internal import _context as ls_context

__all__ = ["hide", "user_client"]

logger = logging.getLogger("tracing_middleware.bridges")
_HIDERS = (("inputs", "_hide_run_inputs"), ("outputs", "_hide_run_outputs"))


def user_client() -> Any:
    """The langsmith client the user's runs would have gone to, without making one; None if there is none."""
    client = ls_context._CLIENT.get() or ls_context._GLOBAL_CLIENT
    if client is None:
        from langsmith import run_trees

        client = getattr(run_trees, "_CLIENT", None)
    return client


def _env_hidden(name: str) -> bool:
    return ls_utils.get_env_var(f"HIDE_{name.upper()}") == "true"


def hide(fields: dict[str, Any], client: Any = None) -> dict[str, Any]:
    """``fields`` (a run as langsmith posts it) with inputs, outputs and error as the user's client would send them."""
    if client is None:
        client = user_client()
    if client is None:
        if not (_env_hidden("inputs") or _env_hidden("outputs")):
            return fields
        fields = dict(fields)
        for name, _ in _HIDERS:
            if fields.get(name) is not None and _env_hidden(name):
                fields[name] = {}
        return fields
    fields = dict(fields)
    for name, method in _HIDERS:
        value = fields.get(name)
        if value is None:
            continue
        try:
            fields[name] = getattr(client, method)(value)
        except Exception:
            logger.warning("langsmith's %s hiding failed; the run's %s are left out", name, name, exc_info=True)
            fields[name] = {}
    error = fields.get("error")
    if error is not None and hasattr(client, "_hide_run_error"):
        try:
            fields["error"] = client._hide_run_error(error)
        except Exception:
            logger.warning("langsmith's error anonymizer failed; the run's error is left out", exc_info=True)
            fields["error"] = "(hidden)"
    return fields
