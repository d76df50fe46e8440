"""The one ``Runtime`` object: reading it, swapping it, and what lives in it."""

from __future__ import annotations

import pytest

import tracing_middleware
from tracing_middleware import InMemoryExporter, Runtime, RunTree, get_runtime, set_runtime, trace, use_runtime
from tracing_middleware.transports import exclude_urls, excluded_urls, include_urls


def test_use_runtime_swaps_everything_and_puts_the_previous_back() -> None:
    outer = get_runtime()
    exporter = InMemoryExporter()
    with use_runtime(Runtime()) as inner:
        assert get_runtime() is inner and inner.settings is None
        tracing_middleware.configure(exporter=exporter, w3c=False)
        assert inner.settings is not None and inner.emit_w3c is False
        assert "traceparent" not in RunTree("r").to_headers()
        exclude_urls("http://127.0.0.1:4318")
        assert excluded_urls() == ("http://127.0.0.1:4318",)
        with trace("inside"):
            pass
        tracing_middleware.configure(exporter="none")
    assert get_runtime() is outer
    assert "http://127.0.0.1:4318" not in excluded_urls()
    assert [run.name for run in exporter.runs] == ["inside"]


def test_use_runtime_restores_the_previous_one_when_the_block_raises() -> None:
    outer = get_runtime()
    with pytest.raises(KeyError), use_runtime(Runtime()):
        raise KeyError("boom")
    assert get_runtime() is outer


def test_set_runtime_returns_the_previous_and_checks_its_argument() -> None:
    fresh = Runtime()
    previous = set_runtime(fresh)
    try:
        assert get_runtime() is fresh
    finally:
        assert set_runtime(previous) is fresh
    with pytest.raises(TypeError, match="Runtime"):
        set_runtime("not a runtime")  # type: ignore[arg-type]


def test_copy_keeps_configuration_and_starts_caches_and_counters_empty() -> None:
    original = Runtime(excluded_urls=("http://a",), outbound_pending=False)
    original.rejected["baggage"] = 3
    original.remembered[0]["x"] = object()
    copied = original.copy(emit_w3c=False)
    assert copied.excluded_urls == ("http://a",) and copied.outbound_pending is False
    assert copied.emit_w3c is False and original.emit_w3c is True
    assert copied.rejected == {} and copied.remembered == [{}, {}]
    assert original.rejected == {"baggage": 3}


def test_rejected_headers_are_counted_on_the_active_runtime() -> None:
    with use_runtime(Runtime()) as counted:
        RunTree.from_headers({"langsmith-trace": "not a dotted order"})
        assert counted.rejected == {"langsmith-trace": 1}
    assert get_runtime().rejected.get("langsmith-trace", 0) >= 0  # untouched by the swap
    assert counted is not get_runtime()


def test_include_urls_undoes_exclude_urls_on_the_active_runtime() -> None:
    with use_runtime(Runtime()) as runtime:
        exclude_urls("http://127.0.0.1:9", "http://127.0.0.1:10")
        include_urls("http://127.0.0.1:9")
        assert runtime.excluded_urls == ("http://127.0.0.1:10",)


def test_configure_in_a_copy_leaves_the_originals_exporters_running() -> None:
    class Counting(InMemoryExporter):
        shutdowns = 0

        def shutdown(self) -> None:
            self.shutdowns += 1

    theirs, ours = Counting(), Counting()
    with use_runtime(Runtime()) as original:
        tracing_middleware.configure(exporter=theirs)
        with use_runtime(original.copy()) as copied:
            assert copied.settings is original.settings
            tracing_middleware.configure(exporter=ours)
            tracing_middleware.configure(exporter="none")  # ours is the copy's own: shut down
        assert (theirs.shutdowns, ours.shutdowns) == (0, 1)
        with trace("after"):
            pass
        assert [run.name for run in theirs.runs] == ["after"]
        tracing_middleware.configure(exporter="none")
    assert theirs.shutdowns == 1
