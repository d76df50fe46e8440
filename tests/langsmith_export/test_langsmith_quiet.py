"""A failing LangSmith endpoint or a missing API key costs at most one log line a minute, in a real process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from standin import StandIn

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = textwrap.dedent(
    """
    import sys
    import tracing_middleware as tm
    from tracing_middleware.exporters.langsmith import LangSmithExporter

    exporter = LangSmithExporter(api_url=sys.argv[1])
    tm.configure(exporter=exporter)

    @tm.traceable
    def step(i):
        return i

    for batch in range(6):
        for i in range(10):
            step(i)
        tm.flush(60)
    print(exporter.processor.failures.count)
    """
)


def _run(endpoint: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANGSMITH_", "LANGCHAIN_"))}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, endpoint], env=env, capture_output=True, text=True, timeout=180
    )


@pytest.mark.parametrize("fault", ["down", 500, "no-api-key"])
def test_one_line_however_many_batches_fail(fault: str | int, standin: StandIn, unused_port: int) -> None:
    endpoint = standin.url
    if fault == "down":
        endpoint = f"http://127.0.0.1:{unused_port}"
    elif fault == 500:
        standin.fail_with = 500
    done = _run(endpoint)  # no LANGSMITH_API_KEY anywhere: the stand-in answers 401 unless failing otherwise
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) == 60  # every run counted as lost
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "LangSmithExporter failed, runs lost" in lines[0]
    if fault == "no-api-key":
        assert "401" in lines[0]


SHORT = textwrap.dedent(
    """
    import sys
    import tracing_middleware as tm
    from tracing_middleware.exporters.langsmith import LangSmithExporter

    tm.configure(exporter=LangSmithExporter(api_url=sys.argv[1], api_key="test-key"))

    @tm.traceable
    def step(i):
        return i

    for i in range(40):
        step(i)
    """
)


def test_a_short_script_keeps_its_runs_without_flush(standin: StandIn) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANGSMITH_", "LANGCHAIN_"))}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-c", SHORT, standin.url], env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr
    assert standin.wait_for(lambda: len(standin.by_name("step")) == 40), len(standin.by_name("step"))
