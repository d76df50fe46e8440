"""Head sampling: LangSmith's xxh3-based decision, deterministic per trace, honouring the caller."""

from __future__ import annotations

import uuid

import pytest

import tracing_middleware as tm
from tracing_middleware.core import sampling

langsmith_sampling = pytest.importorskip("langsmith._internal._sampling")


def test_pure_xxh3_matches_the_xxhash_package() -> None:
    xxhash = pytest.importorskip("xxhash")
    for length in range(17, 129):
        data = (uuid.uuid4().bytes * 9)[:length]
        assert sampling.xxh3_128(data) == xxhash.xxh3_128_intdigest(data)


@pytest.mark.parametrize("rate", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_decision_equals_langsmiths_for_the_same_trace_id(rate: float) -> None:
    for _ in range(300):
        trace_id = str(uuid.uuid4())
        assert sampling.is_sampled(trace_id, rate) == langsmith_sampling.is_sampled_by_id(trace_id, rate)


def test_the_rate_is_honoured_roughly() -> None:
    kept = sum(sampling.is_sampled(str(uuid.uuid4()), 0.25) for _ in range(4000))
    assert 800 < kept < 1200


def test_unsampled_traces_propagate_but_are_not_recorded() -> None:
    memory = tm.InMemoryExporter()
    tm.configure(exporter=memory, sample_rate=0.0)
    try:
        with tm.trace("root") as root:
            headers = tm.get_current_run_tree().to_headers()  # type: ignore[union-attr]
        assert root.sampled is False
        assert headers["langsmith-trace"] == root.dotted_order  # context still flows
        assert headers["traceparent"].endswith("-02")  # and says it was not sampled (02: random trace id)
        assert memory.runs == []
    finally:
        tm.configure(exporter="none")


def test_an_upstream_w3c_decision_is_honoured_over_the_local_rate() -> None:
    memory = tm.InMemoryExporter()
    tm.configure(exporter=memory, sample_rate=1.0)
    try:
        not_sampled = {"traceparent": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-00"}
        with tm.tracing_context(parent=not_sampled), tm.trace("child") as run:
            pass
        assert run.sampled is False and memory.runs == []
        tm.configure(exporter=memory, sample_rate=0.0)
        sampled = {"traceparent": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"}
        with tm.tracing_context(parent=sampled), tm.trace("child") as run:
            pass
        assert run.sampled is True and [r.name for r in memory.runs] == ["child"]
    finally:
        tm.configure(exporter="none")


def test_services_agree_on_a_langsmith_trace_parent_without_a_flag() -> None:
    memory = tm.InMemoryExporter()
    tm.configure(exporter=memory, sample_rate=0.5)
    try:
        decisions = []
        for _ in range(50):
            root = tm.RunTree("upstream")
            with tm.tracing_context(parent=root.to_headers(w3c=False)), tm.trace("downstream") as run:
                pass
            decisions.append((run.sampled, sampling.is_sampled(root.trace_id, 0.5)))
        assert all(ours == expected for ours, expected in decisions)
        assert {d for d, _ in decisions} == {True, False}
    finally:
        tm.configure(exporter="none")


def test_bad_rates_name_the_valid_range(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="from 0 to 1"):
        tm.configure(exporter="none", sample_rate=2)
    monkeypatch.setenv("TRACING_MIDDLEWARE_SAMPLE_RATE", "half")  # the environment only warns: every trace kept
    assert tm.configure(exporter="none").sample_rate == 1.0
