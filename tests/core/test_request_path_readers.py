"""The request path's fast header readers give exactly what the general ``read_headers`` gives."""

from __future__ import annotations

from typing import Any

import pytest

from tracing_middleware.core.propagation import codec, traceparent
from tracing_middleware.core.propagation.carriers import read_environ, read_headers, read_pairs

TP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

PAIRS: list[Any] = [
    [],
    [(b"host", b"a"), (b"traceparent", TP.encode())],
    [(b"TraceParent", TP.encode()), (b"traceparent", b"x"), (b"baggage", b"k=v"), (b"tracestate", b"a=1")],
    [(b"langsmith-trace", b"\xff\xfe"), (b"accept", b"*/*")],
    [(b"traceparent", TP.encode()), ("baggage", "k=v")],  # a str name: the general rules
    [(b"traceparent", [b"a", b"b"])],  # a list value
    [(b"traceparent", None)],
    [(b"traceparent", 5)],
    [(b"traceparent",), (b"baggage", b"k=v")],  # not a pair
    [(b"a", b"b", b"c"), (b"traceparent", TP.encode())],
    [None, 3, "xy", (b"baggage", b"k=v")],
    [(b"traceparent", TP.encode())] * 5000,  # over the item cap
    ((b"traceparent", TP.encode()),),  # a tuple, not a list
    [(bytearray(b"traceparent"), b"v")],
]


@pytest.mark.parametrize("pairs", PAIRS, ids=range(len(PAIRS)))
def test_read_pairs_is_read_headers(pairs: Any) -> None:
    assert read_pairs(pairs) == read_headers(pairs)


class _Explodes(dict[str, Any]):
    def __contains__(self, key: object) -> bool:
        raise RuntimeError("hostile")


ENVIRONS: list[Any] = [
    {},
    {"REQUEST_METHOD": "GET"},
    {"REQUEST_METHOD": "GET", "HTTP_TRACEPARENT": TP, "HTTP_BAGGAGE": "k=v", "HTTP_TRACESTATE": "a=1"},
    {"wsgi.version": (1, 0), "HTTP_LANGSMITH_TRACE": b"bytes", "HTTP_TRACEPARENT": ["a", b"b"]},
    {"REQUEST_METHOD": "GET", "HTTP_TRACEPARENT": None, "HTTP_BAGGAGE": 7},
    {"traceparent": TP, "Baggage": "k=v"},  # no environ markers: read as a plain dict
    {"type": "http", "headers": [(b"traceparent", TP.encode())], "REQUEST_METHOD": "GET"},  # scope-like
    {"headers": "not a list", "REQUEST_METHOD": "GET", "HTTP_TRACEPARENT": TP},
    _Explodes(REQUEST_METHOD="GET"),
    [("traceparent", TP)],  # not a dict at all
    None,
]


@pytest.mark.parametrize("environ", ENVIRONS, ids=range(len(ENVIRONS)))
def test_read_environ_is_read_headers(environ: Any) -> None:
    assert read_environ(environ) == read_headers(environ)


VALUES = [
    TP,
    f" \t{TP}\t ",
    TP.replace("-01", "-00"),
    TP.replace("-01", "-03"),
    TP.replace("-01", "-ff"),
    "00-" + "0" * 32 + "-b7ad6b7169203331-01",
    "00-0af7651916cd43dd8448eb211c80319c-" + "0" * 16 + "-01",
    TP.upper(),
    TP + "-extra",
    "01" + TP[2:] + "-extra",
    "ff" + TP[2:],
    TP[:-1],
    "",
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333\u0661-01",  # a non-ASCII digit
]


def _general(value: str) -> traceparent.SpanContext | None:
    """The parse by the general rules alone, without the usual-value shortcut."""
    saved = traceparent._USUAL
    traceparent._USUAL = traceparent.re.compile(r"(?!)")  # matches nothing
    try:
        return traceparent.parse(value)
    finally:
        traceparent._USUAL = saved


@pytest.mark.parametrize("value", VALUES)
def test_traceparent_shortcut_agrees_with_the_general_rules(value: str) -> None:
    parsed = traceparent.parse(value)
    assert parsed == _general(value)
    assert parsed is None or type(parsed) is traceparent.SpanContext


def test_remote_parent_with_absent_headers_matches_empty_ones() -> None:
    alone = codec.remote_parent({"traceparent": [TP]})
    empty = codec.remote_parent({"traceparent": [TP], "baggage": [], "tracestate": [], "langsmith-trace": []})
    assert alone is not None and empty is not None
    assert type(alone) is codec.RemoteParent
    assert alone._replace(dotted_order="", start_us=0) == empty._replace(dotted_order="", start_us=0)
    assert alone.otel_span_id == "b7ad6b7169203331" and alone.sampled is True
    assert alone.metadata == {} and alone.tags == [] and alone.baggage is None and alone.tracestate is None
