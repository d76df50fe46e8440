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
import os
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from tracing_middleware.core import runtime as _rt
from tracing_middleware.core.pipeline import Exporter, Processor, SimpleProcessor
from tracing_middleware.core.run_tree import RunTree

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
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    if raw:
        raise ValueError(f"{name} must be one of {sorted(_TRUE | _FALSE)}; got {raw!r}")
    return default


def _rate(value: float | None) -> float:
    if value is None:
        raw = (
            os.environ.get("TRACING_MIDDLEWARE_SAMPLE_RATE") or os.environ.get("LANGSMITH_TRACING_SAMPLING_RATE") or "1"
        )
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"the sample rate must be a number from 0 to 1; got {raw!r}") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"sample_rate must be from 0 to 1; got {value!r}")
    return float(value)


def _default_service() -> str:
    main = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    name = os.path.splitext(main)[0]
    return name if name and name not in ("-c", "-m") else "python"


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
) -> Settings:
    """Set up tracing; arguments left out come from the environment, then the defaults.

    ``exporter``: a name (``EXPORTERS``), an exporter object, or a list of them (all receive every
    run). Calling ``configure`` again shuts the previous exporters down and replaces them.
    ``bridges``: which in-process tracers nest with our runs (``tracing_middleware.bridges``).
    """
    settings = make_settings(
        exporter=exporter,
        project_name=project_name,
        service_name=service_name,
        enabled=enabled,
        w3c=w3c,
        sample_rate=sample_rate,
        bridges=bridges,
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
) -> Settings:
    """The settings ``configure`` would install, built (exporters included) but not made active."""
    wiring = importlib.import_module("tracing_middleware.bridges")
    wanted: tuple[str, ...] = wiring.from_env() if bridges is None else wiring.parse(bridges)
    if exporter is None:
        specs: list[str | Exporter] = [
            s for s in os.environ.get("TRACING_MIDDLEWARE_EXPORTER", DEFAULT_EXPORTER).split(",") if s.strip()
        ]
    elif isinstance(exporter, (str, Exporter)):
        specs = [exporter]
    elif isinstance(exporter, Sequence):
        specs = list(exporter)
    else:
        raise TypeError(f"exporter must be a name ({', '.join(EXPORTERS)}), an exporter object or a list of them")
    exporters = [e for e in (_make_exporter(s) for s in specs) if e is not None]
    settings = Settings(
        enabled=_flag("TRACING_MIDDLEWARE_ENABLED", True) if enabled is None else bool(enabled),
        project_name=project_name
        or os.environ.get("TRACING_MIDDLEWARE_PROJECT")
        or os.environ.get("LANGSMITH_PROJECT")
        or "default",
        service_name=service_name
        or os.environ.get("TRACING_MIDDLEWARE_SERVICE")
        or os.environ.get("OTEL_SERVICE_NAME")
        or _default_service(),
        w3c=_flag("TRACING_MIDDLEWARE_W3C", True) if w3c is None else bool(w3c),
        sample_rate=_rate(sample_rate),
        processors=tuple(_processor(e) for e in exporters),
        exporters=exporters,
        bridges=wanted,
    )
    return settings


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
    for processor in get_settings().processors:
        processor.on_end(run)


def flush(timeout: float | None = None) -> bool:
    """Wait until every finished run is exported; False if ``timeout`` passed first."""
    return all(processor.flush(timeout) for processor in get_settings().processors)


def shutdown(timeout: float | None = None) -> None:
    """Flush and stop every exporter."""
    for processor in get_settings().processors:
        processor.shutdown(timeout)
