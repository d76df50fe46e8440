"""requests: TracingAdapter and the instrument() patch of Session.send, against a real HTTP server."""

from __future__ import annotations

import json
from typing import Any

import pytest

requests = pytest.importorskip("requests")

from outbound_support import host_of, tracing_headers  # noqa: E402
from requests.adapters import BaseAdapter, HTTPAdapter  # noqa: E402

import tracing_middleware as tm  # noqa: E402
from tracing_middleware.transports import PropagationTargets, exclude_urls  # noqa: E402
from tracing_middleware.transports.instrument import instrument, uninstrument  # noqa: E402
from tracing_middleware.transports.requests import TracingAdapter  # noqa: E402


def seen(response: Any) -> dict[str, list[str]]:
    return response.json()["headers"]  # type: ignore[no-any-return]


class EchoAdapter(BaseAdapter):
    """A custom adapter (no network): answers with the headers it was given, like the echo server."""

    def __init__(self) -> None:
        super().__init__()
        self.closed = False

    def send(self, request: Any, stream: bool = False, timeout: Any = None, verify: Any = True, cert: Any = None,
             proxies: Any = None) -> Any:  # fmt: skip
        response = requests.Response()
        response.status_code = 200
        response._content = json.dumps({"headers": {k.lower(): [v] for k, v in request.headers.items()}}).encode()
        response.request = request
        response.url = request.url
        return response

    def close(self) -> None:
        self.closed = True


def test_adapter_sends_headers_naming_a_client_run(echo: str, memory: tm.InMemoryExporter) -> None:
    with requests.Session() as session:
        session.mount("http://", TracingAdapter())
        with tm.trace("handler") as handler:
            headers = seen(session.get(f"{echo}/items/1", params={"api_key": "k", "q": "x"}))
    (run,) = memory.by_name(f"GET {host_of(echo)}/items/1")
    assert run.parent_run_id == handler.id
    assert headers["langsmith-trace"] == [run.dotted_order]
    assert headers["traceparent"] == [f"00-{run.trace_id.replace('-', '')}-{run.span_id}-03"]  # random id, sampled
    assert headers["baggage"] == ["langsmith-project=default"]
    assert run.outputs == {"status_code": 200}
    assert run.metadata["http.url"] == f"{echo}/items/1?api_key=REDACTED&q=x"


def test_adapter_wraps_any_adapter_and_forwards_close(memory: tm.InMemoryExporter) -> None:
    inner = EchoAdapter()
    adapter = TracingAdapter(inner)
    with requests.Session() as session:
        session.mount("http://", adapter)
        with tm.trace("handler"):
            headers = seen(session.get("http://svc.internal/x"))
    assert inner.closed
    assert headers["langsmith-trace"] == [memory.by_name("GET svc.internal/x")[0].dotted_order]
    with pytest.raises(TypeError, match="adapter"):
        TracingAdapter(object())  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["http", "custom"])
def test_instrument_covers_every_adapter(kind: str, echo: str, memory: tm.InMemoryExporter) -> None:
    instrument()
    with requests.Session() as session:
        url = f"{echo}/x"
        if kind == "custom":
            session.mount("http://", EchoAdapter())
            url = "http://svc.internal/x"
        with tm.trace("handler") as handler:
            headers = seen(session.get(url))
    (run,) = [r for r in memory.runs if r.name.startswith("GET ")]
    assert run.parent_run_id == handler.id
    assert headers["langsmith-trace"] == [run.dotted_order]


def test_module_level_functions_are_covered(echo: str, memory: tm.InMemoryExporter) -> None:
    instrument()
    with tm.trace("handler"):
        headers = seen(requests.post(f"{echo}/submit", data=b"x", timeout=10))
    (run,) = memory.by_name(f"POST {host_of(echo)}/submit")
    assert headers["langsmith-trace"] == [run.dotted_order]


def test_adapter_and_patch_inject_once(echo: str, memory: tm.InMemoryExporter) -> None:
    instrument()
    instrument()
    with requests.Session() as session:
        session.mount("http://", TracingAdapter(HTTPAdapter()))
        with tm.trace("handler"):
            headers = seen(session.get(f"{echo}/once"))
    runs = [r for r in memory.runs if r.name.startswith("GET ")]
    assert len(runs) == 1 and headers["langsmith-trace"] == [runs[0].dotted_order]


def test_uninstrument_restores_session_send(echo: str, memory: tm.InMemoryExporter) -> None:
    original = requests.Session.__dict__["send"]
    instrument()
    assert requests.Session.send is not original
    uninstrument()
    assert requests.Session.__dict__["send"] is original
    with tm.trace("handler"):
        headers = seen(requests.get(f"{echo}/after", timeout=10))
    assert tracing_headers(headers) == {}


def test_no_current_run_sends_nothing(echo: str, memory: tm.InMemoryExporter) -> None:
    instrument()
    headers = seen(requests.get(f"{echo}/bare", timeout=10))
    with tm.trace("handler"), tm.suppress_tracing():
        suppressed = seen(requests.get(f"{echo}/suppressed", timeout=10))
    assert tracing_headers(headers) == {} and tracing_headers(suppressed) == {}
    assert [r.name for r in memory.runs] == ["handler"]


def test_baggage_of_other_vendors_is_kept_and_hand_set_trace_respected(echo: str, memory: tm.InMemoryExporter) -> None:
    instrument()
    other = tm.RunTree("elsewhere")
    with tm.trace("handler"):
        bag = seen(requests.get(f"{echo}/bag", headers={"baggage": "vendor=1,langsmith-tags=old"}, timeout=10))
        manual = seen(requests.get(f"{echo}/manual", headers={"langsmith-trace": other.dotted_order}, timeout=10))
    assert bag["baggage"] == ["vendor=1,langsmith-project=default"]
    assert manual["langsmith-trace"] == [other.dotted_order] and "traceparent" not in manual
    assert len([r for r in memory.runs if r.name.startswith("GET ")]) == 1


def test_streamed_response_ends_the_client_run_on_close(echo: str, memory: tm.InMemoryExporter) -> None:
    instrument()
    name = f"GET {host_of(echo)}/stream"
    with tm.trace("handler"):
        with requests.get(f"{echo}/stream", stream=True, timeout=10) as response:
            assert next(response.iter_content(64))
            assert memory.by_name(name) == []
        (run,) = memory.by_name(name)
    assert run.outputs == {"status_code": 200}


def test_errors_are_recorded_and_reraised(echo: str, closed_port: int, memory: tm.InMemoryExporter) -> None:
    instrument()
    with tm.trace("handler"):
        assert requests.get(f"{echo}/status/500", timeout=10).status_code == 500
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{closed_port}/down", timeout=10)
    assert memory.by_name(f"GET {host_of(echo)}/status/500")[0].error == "HTTP 500"
    (down,) = memory.by_name(f"GET 127.0.0.1:{closed_port}/down")
    assert down.error is not None and down.error.startswith("ConnectionError")


def test_redirect_hops_each_carry_their_own_client_run(echo: str, memory: tm.InMemoryExporter) -> None:
    instrument()
    with tm.trace("handler") as handler:
        response = requests.get(f"{echo}/a/redirect?to={echo}/b/final", timeout=10)
    (hop1,) = memory.by_name(f"GET {host_of(echo)}/a/redirect")
    (hop2,) = memory.by_name(f"GET {host_of(echo)}/b/final")
    assert hop1.outputs == {"status_code": 302} and hop2.outputs == {"status_code": 200}
    assert hop1.parent_run_id == hop2.parent_run_id == handler.id
    assert seen(response)["langsmith-trace"] == [hop2.dotted_order]


def test_targets_exclusions_and_sigv4(echo: str, memory: tm.InMemoryExporter) -> None:
    instrument(targets=PropagationTargets(["*.internal"], internal=False, public_trace_ids=False))
    exclude_urls(f"{echo}/ingest")
    with tm.trace("handler"):
        outside = seen(requests.get(f"{echo}/outside", timeout=10))
        excluded = seen(requests.get(f"{echo}/ingest", timeout=10))
    instrument(targets=None)
    with tm.trace("handler"):
        signed = seen(
            requests.get(f"{echo}/s3", headers={"Authorization": "AWS4-HMAC-SHA256 Credential=x"}, timeout=10)
        )
        presigned = seen(requests.get(f"{echo}/s3?X-Amz-Signature=ab", timeout=10))
    assert tracing_headers(outside) == tracing_headers(excluded) == tracing_headers(signed) == {}
    assert tracing_headers(presigned) == {}
    names = sorted(r.name for r in memory.runs if r.name.startswith("GET "))
    assert names == [f"GET {host_of(echo)}/outside", f"GET {host_of(echo)}/s3", f"GET {host_of(echo)}/s3"]


def test_adapter_options_win_over_the_patch(echo: str, memory: tm.InMemoryExporter) -> None:
    instrument()
    with requests.Session() as session:
        session.mount("http://", TracingAdapter(client_runs=False))
        with tm.trace("handler") as handler:
            headers = seen(session.get(f"{echo}/own"))
    assert headers["langsmith-trace"] == [handler.dotted_order]
    assert [r.name for r in memory.runs] == ["handler"]
