"""The package's one reader of environment variables: a bad value never takes the app down.

Every ``TRACING_MIDDLEWARE_*`` (and honoured ``LANGSMITH_*`` / ``OTEL_*``) variable is read through
these functions. A value that does not parse is not an error: the default is used instead and one
warning line names the variable, the value found (escaped, shortened) and the value used. Each bad
value is reported once per process (per ``Runtime``), however often it is read.

Arguments passed in code (``configure(...)``, exporter and middleware options) are checked by their
own callers and raise ``ValueError``/``TypeError``: those are programming errors, seen at startup.
"""

from __future__ import annotations

import math
import os
import re
import threading
from collections.abc import Sequence

from tracing_middleware.core import runtime as _rt
from tracing_middleware.core.printable import get_logger

__all__ = [
    "TRUE", "FALSE", "env_flag", "env_int", "env_float", "env_text", "env_list", "env_duration", "parse_duration",
    "warn_bad",
]  # fmt: skip

logger = get_logger("tracing_middleware.config")

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})
_SHOWN = 60  # characters of a bad value repeated in the warning
_lock = threading.Lock()


def _shown(raw: str) -> str:
    text = raw if len(raw) <= _SHOWN else raw[:_SHOWN] + "…"
    return ascii(text)  # quoted, control characters and non-ASCII escaped: never a forged log line


def warn_bad(name: str, raw: str, expected: str, used: object) -> None:
    """Log once per process and value: ``name`` holds ``raw``, not ``expected``; ``used`` is used instead."""
    key = (name, raw)
    warned = _rt.current.warned_env
    with _lock:
        if key in warned:
            return
        warned.add(key)
    logger.warning("%s=%s is not %s; using %s", name, _shown(raw), expected, used)


def _raw(names: str | Sequence[str]) -> tuple[str, str] | None:
    """The first of ``names`` set to a non-blank value, with that value stripped."""
    for name in (names,) if isinstance(names, str) else names:
        raw = os.environ.get(name, "").strip()
        if raw:
            return name, raw
    return None


def env_text(names: str | Sequence[str], default: str) -> str:
    """The first of ``names`` that is set and not blank, stripped; else ``default``."""
    found = _raw(names)
    return default if found is None else found[1]


def env_flag(names: str | Sequence[str], default: bool) -> bool:
    """``1/true/yes/on`` or ``0/false/no/off`` in any case; anything else warns and gives ``default``."""
    found = _raw(names)
    if found is None:
        return default
    name, raw = found
    lowered = raw.lower()
    if lowered in TRUE:
        return True
    if lowered in FALSE:
        return False
    warn_bad(name, raw, "one of true/false/1/0/yes/no/on/off", str(default).lower())
    return default


def env_int(names: str | Sequence[str], default: int, *, minimum: int = 1) -> int:
    """A whole number of at least ``minimum``; anything else warns and gives ``default``."""
    found = _raw(names)
    if found is None:
        return default
    name, raw = found
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        warn_bad(name, raw, f"a whole number >= {minimum}", default)
        return default
    return value


def env_float(names: str | Sequence[str], default: float, *, minimum: float = 0.0, maximum: float = math.inf) -> float:
    """A number from ``minimum`` to ``maximum``; anything else (NaN included) warns and gives ``default``."""
    found = _raw(names)
    if found is None:
        return default
    name, raw = found
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not minimum <= value <= maximum:  # False for NaN too
        shown_max = "" if maximum == math.inf else f" to {maximum:g}"
        warn_bad(name, raw, f"a number from {minimum:g}{shown_max}", default)
        return default
    return value


def env_list(name: str, default: Sequence[str], choices: Sequence[str]) -> list[str]:
    """Comma-separated names from ``choices`` (any case); unknown ones warn and are left out.

    When none is left, ``default`` is used.
    """
    found = _raw(name)
    if found is None:
        return list(default)
    raw = found[1]
    picked: list[str] = []
    unknown: list[str] = []
    for item in raw.split(","):
        word = item.strip().lower()
        if not word:
            continue
        (picked if word in choices else unknown).append(word)
    if unknown:
        used = ", ".join(picked or default)
        warn_bad(name, raw, f"a comma-separated list of {', '.join(choices)}", used)
    return picked or list(default)


_SPAN = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800, None: 1}


def parse_duration(text: str) -> float | None:
    """Seconds in ``30s``/``10m``/``12h``/``7d``/``2w`` (a bare number is seconds); None if it is not one."""
    match = _SPAN.fullmatch(text.strip().lower())
    if match is None:
        return None
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def env_duration(name: str, default: float | None) -> float | None:
    """A duration such as ``7d`` (see ``parse_duration``); anything else warns and gives ``default``."""
    found = _raw(name)
    if found is None:
        return default
    seconds = parse_duration(found[1])
    if seconds is None:
        warn_bad(name, found[1], "a duration like 30m, 12h, 7d or 2w", "none" if default is None else default)
        return default
    return seconds
