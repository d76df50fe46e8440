"""Untrusted text shown or logged: control and invisible format characters become visible escapes."""

from __future__ import annotations

import io
import json
import logging
import sys
import unicodedata
from collections.abc import Iterator

import pytest

from tracing_middleware.core.pipeline import FailureLog
from tracing_middleware.core.printable import get_logger, is_printable, printable, printable_json

DANGEROUS = {
    "\x1b": r"\x1b",
    "\x07": r"\x07",
    "\x00": r"\x00",
    "\x7f": r"\x7f",
    "\x9b": r"\x9b",
    "\x85": r"\x85",
    "\t": r"\t",
    "\n": r"\n",
    "\r": r"\r",
    "\u202a": r"\u202a",
    "\u202e": r"\u202e",
    "\u2066": r"\u2066",
    "\u2069": r"\u2069",
    "\u200e": r"\u200e",
    "\u061c": r"\u061c",
    "\u200b": r"\u200b",
    "\u2060": r"\u2060",
    "\ufeff": r"\ufeff",
    "\u2028": r"\u2028",
    "\u2029": r"\u2029",
    "\U000e0041": r"\U000e0041",
    "\udc80": r"\udc80",
}


@pytest.mark.parametrize(("char", "escaped"), DANGEROUS.items(), ids=[repr(c) for c in DANGEROUS])
def test_each_dangerous_character_is_escaped(char: str, escaped: str) -> None:
    assert printable(f"a{char}b") == f"a{escaped}b"
    assert not is_printable(f"a{char}b")


@pytest.mark.parametrize(
    "text",
    [
        "plain ascii",
        "café naïve",
        "注文を処理する",
        "\U0001f469\u200d\U0001f469\u200d\U0001f467 family",  # emoji joined by zero-width joiners
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # Persian with a zero-width non-joiner
        "C:\\Users\\x",
        "nbsp\u00a0ok",
        "ÅΩ",
        "",
    ],
)
def test_ordinary_text_of_any_script_is_kept(text: str) -> None:
    assert printable(text) == text
    assert is_printable(text)


def test_every_format_character_of_this_python_is_escaped_but_the_joiners() -> None:
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        category = unicodedata.category(char)
        if category in ("Cc", "Cf", "Zl", "Zp") and char not in "\u200c\u200d":
            assert printable(char) != char, hex(code)
            assert printable(char).isascii()


def test_non_strings_and_keep() -> None:
    assert printable(ValueError("bad \x1b[2J")) == r"bad \x1b[2J"
    assert printable("one\ntwo\x1b", keep="\n") == "one\ntwo\\x1b"


def test_json_keeps_its_value_and_escapes_c1_and_format_characters() -> None:
    value = {"k\x9b": ["\u202eevil", "\x1b[2J", "\U000e0041", "\udc80", "ok é 注"]}
    text = printable_json(json.dumps(value, ensure_ascii=False, indent=2))
    assert json.loads(text) == value
    assert "\x9b" not in text and "\u202e" not in text and "\U000e0041" not in text
    assert "\\u009b" in text and "\\u202e" in text and "\\udb40\\udc41" in text and "ok é 注" in text
    assert "\n" in text  # the layout's own line breaks stay


@pytest.fixture
def logged() -> Iterator[io.StringIO]:
    """What a plain stream handler on the package's export logger writes."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = get_logger("tracing_middleware.export")
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)


def test_failure_log_escapes_an_error_that_carries_received_text(logged: io.StringIO) -> None:
    FailureLog("exporter failed").record(RuntimeError("backend said \x1b]52;c;Zm9v\x07 \u202eok"))
    text = logged.getvalue()
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert r"backend said \x1b]52;c;Zm9v\x07 \u202eok" in text
    assert "(1 runs so far)" in text  # numbers still format as numbers


def test_tracebacks_are_escaped_line_by_line(logged: io.StringIO) -> None:
    logger = get_logger("tracing_middleware.export")
    try:
        raise ValueError("bad id \x9b2J\x1b[2J")
    except ValueError:
        logger.warning("skipped %s", "run\x1b[31m", exc_info=True)
    text = logged.getvalue()
    assert "\x1b" not in text and "\x9b" not in text
    assert r"skipped run\x1b[31m" in text
    assert "Traceback (most recent call last):\n" in text  # still a readable, multi-line traceback
    assert r"ValueError: bad id \x9b2J\x1b[2J" in text


def test_every_package_logger_has_the_filter() -> None:
    import tracing_middleware.core.batch
    import tracing_middleware.core.context
    import tracing_middleware.core.propagation.limits
    import tracing_middleware.middleware.asgi
    import tracing_middleware.middleware.request
    import tracing_middleware.middleware.wsgi  # noqa: F401

    for name in ("export", "propagation", "asgi", "middleware", "wsgi", "context"):
        filters = logging.getLogger(f"tracing_middleware.{name}").filters
        assert any(type(f).__name__ == "PrintableFilter" for f in filters), name
