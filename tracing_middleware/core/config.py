"""Settings in one place: ``configure(...)`` and the environment, read once.

Environment variables (``configure`` arguments win):

- ``TRACING_MIDDLEWARE_ENABLED`` — ``false`` turns tracing off (no runs, no headers).
- ``TRACING_MIDDLEWARE_EXPORTER`` — comma-separated exporter names (see ``EXPORTERS``).
- ``TRACING_MIDDLEWARE_PROJECT`` (else ``LANGSMITH_PROJECT``) — project of runs that name none.
- ``TRACING_MIDDLEWARE_SERVICE`` (else ``OTEL_SERVICE_NAME``) — the service recorded on each run.
- ``TRACING_MIDDLEWARE_W3C`` — ``false`` stops emitting ``traceparent`` beside ``langsmith-trace``.
- ``TRACING_MIDDLEWARE_SAMPLE_RATE`` (else ``LANGSMITH_TRACING_SAMPLING_RATE``) — share of traces
  recorded, 0..1, decided per trace id exactly as LangSmith's SDKs decide it. Unsampled requests still
  propagate their context.
- ``TRACING_MIDDLEWARE_BRIDGES`` — ``auto`` (default), ``none``, or ``langsmith``/``otel`` (comma-separated):
  which in-process tracers nest with our runs (``tracing_middleware.bridges``).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tracing_middleware.core import runtime as _rt
from tracing_middleware.core.env import env_flag, env_float, env_list, env_text
from tracing_middleware.core.pipeline import Exporter, Processor, SimpleProcessor
from tracing_middleware.core.printable import get_logger
from tracing_middleware.core.redaction import Hide, Redactor, make_redactor
from tracing_middleware.core.run_tree import RunTree
from tracing_middleware.core.service import default_service

__all__ = ["configure", "make_settings", "get_settings", "record", "EXPORTERS", "Settings", "shutdown", "flush"]

# name -> "module:factory"; imported only when chosen, so the core stays free of optional imports.
EXPORTERS: dict[str, str] = {
    "sqlite": "tracing_middleware.exporters.sqlite:SQLiteExporter",
    "jsonl": "tracing_middleware.exporters.jsonl:JSONLExporter",
    "console": "tracing_middleware.exporters.console:ConsoleExporter",
    "otlp": "tracing_middleware.exporters.otlp:OTLPExporter",
    "langsmith": "tracing_middleware.exporters.langsmith:LangSmithExporter",
    "memory": "tracing_middleware.exporters.memory:InMemoryExporter",
    "none": "",
}
DEFAULT_EXPORTER = "sqlite"
logger = get_logger("tracing_middleware.config")


@dataclass
class Settings:
    """The effective configuration."""

    enabled: bool = True
    project_name: str = "default"
    service_name: str = "python"
    w3c: bool = True
    sample_rate: float = 1.0
    processors: tuple[Processor, ...] = ()
    exporters: list[Exporter] = field(default_factory=list)
    bridges: tuple[str, ...] = ()
    redactor: Redactor | None = None
    """Hidden inputs/outputs and the ``redact`` hook (``core.redaction``), applied before every exporter."""


_lock = threading.Lock()
_first_use = threading.Lock()


def _make_exporter(spec: str | Exporter) -> Exporter | None:
    if not isinstance(spec, str):
        if not isinstance(spec, Exporter):
            raise TypeError(
                f"exporter must be a name ({', '.join(EXPORTERS)}) or an object with export() and shutdown()"
            )
        return spec
    name = spec.strip().lower()
    if name not in EXPORTERS:
        raise ValueError(f"exporter must be one of {', '.join(EXPORTERS)}; got {spec!r}")
    target = EXPORTERS[name]
    if not target:
        return None
    module, _, attr = target.partition(":")
    factory = getattr(importlib.import_module(module), attr)
    exporter: Exporter = factory()
    return exporter


def _env_exporters() -> list[Exporter]:
    """The exporters named by ``TRACING_MIDDLEWARE_EXPORTER``; one that cannot be built warns and is skipped."""
    exporters = []
    for name in env_list("TRACING_MIDDLEWARE_EXPORTER", [DEFAULT_EXPORTER], list(EXPORTERS)):
        try:
            exporter = _make_exporter(name)
        except Exception as error:  # a missing extra, a bad endpoint: the app keeps running untraced there
            logger.warning(
                "TRACING_MIDDLEWARE_EXPORTER: exporter %r cannot start (%s: %s); runs are not sent there",
                name, type(error).__name__, error,
            )  # fmt: skip
            continue
        if exporter is not None:
            exporters.append(exporter)
    return exporters


def _check_rate(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"sample_rate must be a number from 0 to 1; got {value!r}")
    return float(value)


def _check_flag(name: str, value: object) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise TypeError(f"{name} must be True, False or None; got {value!r}")
    return value


def _processor(exporter: Exporter) -> Processor:
    # Exporters are built inside configure(): they must read get_settings() lazily, at export time.
    make = getattr(exporter, "make_processor", None)  # exporters doing I/O choose a batching processor
    return make() if callable(make) else SimpleProcessor(exporter)


def configure(
    *,
    exporter: str | Exporter | Sequence[str | Exporter] | None = None,
    project_name: str | None = None,
    service_name: str | None = None,
    enabled: bool | None = None,
    w3c: bool | None = None,
    sample_rate: float | None = None,
    bridges: str | Sequence[str] | bool | None = None,
    hide_inputs: Hide | None = None,
    hide_outputs: Hide | None = None,
    redact: Callable[[RunTree], Any] | None = None,
) -> Settings:
    """Set up tracing; arguments left out come from the environment, then the defaults.

    ``exporter``: a name (``EXPORTERS``), an exporter object, or a list of them (all receive every
    run). Calling ``configure`` again shuts the previous exporters down and replaces them.
    ``bridges``: which in-process tracers nest with our runs (``tracing_middleware.bridges``).
    ``hide_inputs`` / ``hide_outputs`` / ``redact``: see ``tracing_middleware.core.redaction``. A bad
    argument raises ``ValueError``/``TypeError`` naming the valid choices; a bad environment value
    only warns (``tracing_middleware.core.env``).
    """
    settings = make_settings(
        exporter=exporter,
        project_name=project_name,
        service_name=service_name,
        enabled=enabled,
        w3c=w3c,
        sample_rate=sample_rate,
        bridges=bridges,
        hide_inputs=hide_inputs,
        hide_outputs=hide_outputs,
        redact=redact,
    )
    # Loaded by name, as the exporters are: the core imports no peer tracer.
    settings.bridges = importlib.import_module("tracing_middleware.bridges").apply(settings.bridges)
    with _lock:
        runtime = _rt.current
        previous, runtime.settings = runtime.settings, settings
        owned, runtime.owns_settings = runtime.owns_settings, True
        runtime.emit_w3c = settings.w3c
    if previous is not None and owned:  # a runtime's copy leaves the settings it shares running
        for processor in previous.processors:
            processor.shutdown()
    return settings


def make_settings(
    *,
    exporter: str | Exporter | Sequence[str | Exporter] | None = None,
    project_name: str | None = None,
    service_name: str | None = None,
    enabled: bool | None = None,
    w3c: bool | None = None,
    sample_rate: float | None = None,
    bridges: str | Sequence[str] | bool | None = None,
    hide_inputs: Hide | None = None,
    hide_outputs: Hide | None = None,
    redact: Callable[[RunTree], Any] | None = None,
) -> Settings:
    """The settings ``configure`` would install, built (exporters included) but not made active."""
    wiring = importlib.import_module("tracing_middleware.bridges")
    wanted: tuple[str, ...] = wiring.from_env() if bridges is None else wiring.parse(bridges)
    _check_flag("enabled", enabled)
    _check_flag("w3c", w3c)
    for name, text in (("project_name", project_name), ("service_name", service_name)):
        if text is not None and not isinstance(text, str):
            raise TypeError(f"{name} must be a str or None; got {text!r}")
    rate = (
        env_float(("TRACING_MIDDLEWARE_SAMPLE_RATE", "LANGSMITH_TRACING_SAMPLING_RATE"), 1.0, maximum=1.0)
        if sample_rate is None
        else _check_rate(sample_rate)
    )
    redactor = make_redactor(
        env_flag("LANGSMITH_HIDE_INPUTS", False) if hide_inputs is None else hide_inputs,
        env_flag("LANGSMITH_HIDE_OUTPUTS", False) if hide_outputs is None else hide_outputs,
        redact,
    )
    if exporter is None:
        exporters = _env_exporters()
    else:
        if isinstance(exporter, (str, Exporter)):
            specs: list[str | Exporter] = [exporter]
        elif isinstance(exporter, Sequence):
            specs = list(exporter)
        else:
            raise TypeError(f"exporter must be a name ({', '.join(EXPORTERS)}), an exporter object or a list of them")
        exporters = [e for e in (_make_exporter(s) for s in specs) if e is not None]
    return Settings(
        enabled=env_flag("TRACING_MIDDLEWARE_ENABLED", True) if enabled is None else enabled,
        project_name=project_name or env_text(("TRACING_MIDDLEWARE_PROJECT", "LANGSMITH_PROJECT"), "default"),
        service_name=service_name
        or env_text(("TRACING_MIDDLEWARE_SERVICE", "OTEL_SERVICE_NAME"), "")
        or default_service(),
        w3c=env_flag("TRACING_MIDDLEWARE_W3C", True) if w3c is None else w3c,
        sample_rate=rate,
        processors=tuple(_processor(e) for e in exporters),
        exporters=exporters,
        bridges=wanted,
        redactor=redactor,
    )


def get_settings() -> Settings:
    """The current settings, configured from the environment on first use."""
    settings = _rt.current.settings
    if settings is None:
        with _first_use:  # two threads racing to the first run must not configure twice
            settings = _rt.current.settings or configure()
    return settings


def record(run: RunTree) -> None:
    """Hand a finished, sampled run to every exporter; never blocks on I/O, never raises."""
    if run.sampled is False:
        return
    settings = _rt.current.settings or get_settings()  # the call only for the first run: this is every run's end
    if settings.redactor is not None:
        settings.redactor(run)
    for processor in settings.processors:
        processor.on_end(run)


def flush(timeout: float | None = None) -> bool:
    """Wait until every finished run is exported; False if ``timeout`` passed first."""
    return all(processor.flush(timeout) for processor in get_settings().processors)


def shutdown(timeout: float | None = None) -> None:
    """Flush and stop every exporter."""
    for processor in get_settings().processors:
        processor.shutdown(timeout)
