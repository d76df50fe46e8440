"""The public surface, pinned: each public module's ``__all__``, and every listed name really there.

A change here is a change of the package's API: add the name on purpose (and to the README), or
deprecate before removing one.
"""

from __future__ import annotations

import importlib

import pytest

PUBLIC: dict[str, set[str]] = {
    "tracing_middleware": {
        "EXPORTERS", "RUN_TYPES", "Exporter", "InMemoryExporter", "MiddlewareOptions", "RequestInfo", "RunTree",
        "Runtime", "TracingMiddleware", "WSGITracingMiddleware", "bind_context", "configure", "extract", "flush",
        "get_current_run_tree", "get_runtime", "get_settings", "get_tracing_context", "inject", "instrument",
        "instrument_logging", "set_runtime", "shutdown", "suppress_tracing", "trace", "traceable", "tracing_context",
        "uninstrument", "use_runtime", "ExporterStats", "exporter_stats",
    },
    "tracing_middleware.adapters.django": {"TracingMiddleware", "SETTING"},
    "tracing_middleware.bridges": {"NAMES", "CHOICES", "ENV", "parse", "from_env", "apply", "active"},
    "tracing_middleware.bridges.langsmith": {"LangSmithBridge", "bridge"},
    "tracing_middleware.bridges.otel": {"OpenTelemetryBridge", "bridge"},
    "tracing_middleware.adapters.fastapi": {"TracingMiddleware", "add_tracing", "request_run"},
    "tracing_middleware.adapters.flask": {"TracingFlask", "instrument_app"},
    "tracing_middleware.adapters.starlette": {"TracingMiddleware", "add_tracing", "request_run"},
    "tracing_middleware.adapters.aiohttp": {
        "RUN_KEY", "instrument_app", "request_run", "route_template", "tracing_middleware",
    },
    "tracing_middleware.adapters.celery": {"CeleryOptions", "TaskInfo", "instrument_celery", "uninstrument_celery"},
    "tracing_middleware.transports.aiohttp": {"TracingTraceConfig", "patch_points"},
    "tracing_middleware.logs": {
        "LOG_FORMAT", "StructlogProcessor", "TraceContextFilter", "instrument_logging", "record_event",
        "structlog_processor", "uninstrument_logging",
    },
    "tracing_middleware.transports": {
        "AsyncTracingTransport", "PropagationTargets", "TracingAdapter", "TracingTransport", "exclude_urls",
        "excluded_urls", "include_urls", "is_excluded",
    },
    "tracing_middleware.transports.instrument": {"instrument", "uninstrument", "instrumented"},
    "tracing_middleware.exporters.console": {"ConsoleExporter", "format_line"},
    "tracing_middleware.exporters.jsonl": {"JSONLExporter", "format_run"},
    "tracing_middleware.exporters.langsmith": {"LangSmithExporter", "LangSmithExportError"},
    "tracing_middleware.exporters.memory": {"InMemoryExporter"},
    "tracing_middleware.exporters.otlp": {"OTLPExporter", "OTLPExportError"},
    "tracing_middleware.exporters.sqlite": {
        "SQLiteExporter", "StoreError", "StoredRun", "TraceStore", "TraceSummary", "default_path",
    },
    "tracing_middleware.middleware.options": {"MiddlewareOptions", "RequestInfo", "NEVER_CAPTURED", "startup_options"},
    "tracing_middleware.bridges.otel_propagator": {"LangSmithPropagator"},
    "tracing_middleware.testing": {"Shape", "TraceParent", "TraceRecorder", "recording"},
    "tracing_middleware.viewer": {"create_app"},
    "tracing_middleware.core.runtime": {"Runtime", "get_runtime", "set_runtime", "use_runtime"},
    # The hook points for bridges to other in-process tracers (see the module docstring).
    "tracing_middleware.core.context": {
        "Bridge", "RunToken", "TracingState", "bind_context", "current_parent", "current_state", "enter_run",
        "set_state", "reset_state", "enter_state", "exit_run", "get_current_run_tree", "get_tracing_context",
        "register_bridge", "registered_bridges", "suppress_tracing", "tracing_context", "unregister_bridge",
        "bridged_parent",
    },
}  # fmt: skip


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_all_is_pinned_and_every_name_exists(module: str) -> None:
    loaded = importlib.import_module(module)
    listed = getattr(loaded, "__all__", None)
    assert listed is not None, f"{module} has no __all__"
    assert len(listed) == len(set(listed)), f"{module}.__all__ lists a name twice"
    assert set(listed) == PUBLIC[module]
    missing = [name for name in listed if not hasattr(loaded, name)]
    assert missing == []


def test_the_types_users_write_callbacks_against_are_the_package_level_ones() -> None:
    import tracing_middleware
    from tracing_middleware.core.runtime import Runtime
    from tracing_middleware.middleware.options import MiddlewareOptions, RequestInfo

    assert tracing_middleware.RequestInfo is RequestInfo
    assert tracing_middleware.MiddlewareOptions is MiddlewareOptions
    assert tracing_middleware.Runtime is Runtime
    info = tracing_middleware.RequestInfo("GET", "/x", "", "127.0.0.1", [("x-id", "1")])
    assert (info.method, info.path, info.client_host, info.header("X-Id")) == ("GET", "/x", "127.0.0.1", "1")


def test_the_package_reexports_exactly_its_modules_objects() -> None:
    import tracing_middleware

    for name in tracing_middleware.__all__:
        value = getattr(tracing_middleware, name)
        home = getattr(value, "__module__", None)
        if home is not None and callable(value):  # functions and classes come from the package's own modules
            assert home.startswith("tracing_middleware."), f"{name} comes from {home}"
