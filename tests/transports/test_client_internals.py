"""The httpx and requests internals the transports read, pinned.

Three private attributes are read for speed or because no public API says the same: httpx's
``Headers._list`` (appending our headers without a rescan per header), requests'
``CaseInsensitiveDict._store`` (reading without a KeyError per absent header) and httpx's
``Client._mounts`` / ``_transport_for_url`` (finding an explicit ``TracingTransport`` behind a mount).
Each has a public fallback used when its shape is not the known one. These tests fail when a release
changes a shape; run them on the oldest supported versions (httpx 0.27, requests 2.31) as well as
the newest::

    python -m venv /tmp/old && /tmp/old/bin/pip install httpx==0.27.0 requests==2.31.0 pytest
    PYTHONPATH=. /tmp/old/bin/python -m pytest tests/transports/test_client_internals.py
"""

from __future__ import annotations

import types
from typing import Any

import pytest

httpx = pytest.importorskip("httpx")
requests = pytest.importorskip("requests")

import tracing_middleware as tm  # noqa: E402
from tracing_middleware.transports import httpx as ours_httpx  # noqa: E402
from tracing_middleware.transports import requests as ours_requests  # noqa: E402
from tracing_middleware.transports.httpx import TracingTransport  # noqa: E402
from tracing_middleware.transports.instrument import instrument  # noqa: E402

OURS = {"langsmith-trace": "20260101T000000000000Z" + "0" * 8 + "-0000-7000-8000-" + "0" * 12, "baggage": "a=1"}


def test_httpx_header_list_has_the_known_shape_and_appending_shows_in_the_public_api() -> None:
    request = httpx.Request("GET", "http://svc.internal/x", headers={"X-Custom": "1", "Accept": "a"})
    items = ours_httpx._header_list(request.headers)
    assert items is not None, f"httpx {httpx.__version__}: Headers._list changed shape"
    assert (b"X-Custom", b"x-custom", b"1") in items
    assert ours_httpx._append(request, OURS)
    assert request.headers["langsmith-trace"] == OURS["langsmith-trace"]
    assert request.headers.get_list("baggage") == ["a=1"]
    assert ("langsmith-trace", OURS["langsmith-trace"]) in request.headers.multi_items()
    assert (b"baggage", b"a=1") in request.headers.raw


def test_httpx_fallback_reads_the_public_api_when_the_list_is_not_there() -> None:
    raw = [(b"Langsmith-Trace", b"t"), (b"baggage", b"a=1"), (b"baggage", b"b=2"), (b"Authorization", b"x")]
    url = httpx.URL("https://api.partner.example:8443/p?q=1")
    request: Any = types.SimpleNamespace(headers=types.SimpleNamespace(raw=raw), url=url, method="GET")
    out = ours_httpx._read(request)
    assert (out.trace, out.baggage, out.authorization) == ("t", ["a=1", "b=2"], "x")
    assert (out.scheme, out.host, out.port, out.path, out.query) == ("https", "api.partner.example", 8443, "/p", "q=1")
    assert ours_httpx._append(request, OURS) is False


def test_requests_store_has_the_known_shape_and_writing_shows_in_the_public_api() -> None:
    prepared = requests.Request("GET", "http://svc.internal/x", headers={"Baggage": "v=1"}).prepare()
    store = ours_requests._store(prepared.headers)
    assert store is not None, f"requests {requests.__version__}: CaseInsensitiveDict._store changed shape"
    assert store["baggage"] == ("Baggage", "v=1")
    out = ours_requests._read(prepared)
    assert out.baggage == ["v=1"] and out.trace is None
    assert ours_requests._append(prepared, {"langsmith-trace": OURS["langsmith-trace"]})
    assert prepared.headers["Langsmith-Trace"] == OURS["langsmith-trace"]
    assert ("langsmith-trace", OURS["langsmith-trace"]) in prepared.headers.items()
    assert ours_requests._store({"a": "b"}) is None  # not requests' own dict: the public API is used


def test_a_mounted_tracing_transport_is_found_behind_the_patch(memory: tm.InMemoryExporter) -> None:
    seen: list[dict[str, str]] = []

    def answer(request: Any) -> Any:
        seen.append(dict(request.headers))
        return httpx.Response(200)

    instrument()
    mounted = TracingTransport(httpx.MockTransport(answer), client_runs=False)
    mounts = {"http://svc.internal": mounted}
    with (
        httpx.Client(mounts=mounts, transport=httpx.MockTransport(answer)) as client,
        tm.trace("handler") as handler,
    ):
        client.get("http://svc.internal/mounted")  # the mount's own options: no client run
        client.get("http://other.internal/plain")  # the patch: a client run
    assert seen[0]["langsmith-trace"] == handler.dotted_order
    assert [r.name for r in memory.runs if r.name.startswith("GET ")] == ["GET other.internal/plain"]
