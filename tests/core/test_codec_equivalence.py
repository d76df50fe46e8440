"""The fast percent-codecs behave exactly like urllib.parse's, errors included."""

from __future__ import annotations

from urllib.parse import quote, unquote

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tracing_middleware.core.propagation import baggage

escapes = st.lists(
    st.one_of(st.text(max_size=4), st.sampled_from(["%", "%2", "%zz", "%C3%A9", "%FF", "%e2%82", "\\x41", "%5Cx41"])),
    max_size=8,
).map("".join)


def outcome(fn: object, value: str) -> tuple[str, str]:
    try:
        return ("ok", fn(value))  # type: ignore[operator]
    except Exception as error:
        return ("error", type(error).__name__)


@settings(max_examples=500, derandomize=True, database=None)
@given(escapes)
@example("%7B%22a%22%3A1%7D")
@example("100%")
def test_unquote_matches_urllib(value: str) -> None:
    assert outcome(baggage._unquote, value) == outcome(lambda v: unquote(v, errors="strict"), value)


@settings(max_examples=500, derandomize=True, database=None)
@given(st.text(max_size=40))
@example('{"a":"x y/z~"}')
def test_quote_matches_urllib(value: str) -> None:
    assert baggage._quote(value) == quote(value, errors="replace")
