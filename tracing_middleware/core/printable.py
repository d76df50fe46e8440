r"""Untrusted text made safe to show: control and invisible format characters written as visible escapes.

Run names, error messages, tags and header values are stored and logged as given, and an error message
often carries what a client sent. Written to a terminal as they are, ``ESC`` sequences (clear the screen,
set the clipboard, forge a hyperlink), C1 controls (``\x9b`` is a CSI on many terminals) and bidi
overrides (``U+202E`` reverses what a reader sees) act on the terminal instead of being read. Everything
this package shows or logs from such data goes through ``printable``:

- C0 and C1 controls and DEL (category Cc): ``\t``, ``\n``, ``\r``, else ``\xNN``;
- format characters (category Cf: bidi embeddings, overrides, isolates and marks, zero-width spaces,
  invisible operators, the byte-order mark, tag characters), except the zero-width joiner and
  non-joiner that emoji and several scripts need: ``\uNNNN`` / ``\UNNNNNNNN``;
- line and paragraph separators (``U+2028``, ``U+2029``) and lone surrogates: the same.

Everything else (letters of every script, emoji, spaces) is kept. Backslashes are kept as they are, so
Windows paths stay readable; the escaped form is for reading, not for parsing back.
"""

from __future__ import annotations

import json
import logging
import unicodedata

__all__ = ["PrintableFilter", "get_logger", "is_printable", "printable", "printable_json"]

_KEPT_FORMAT = frozenset("\u200c\u200d")  # zero-width non-joiner and joiner: part of emoji and scripts
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _unsafe(char: str) -> bool:
    return char not in _KEPT_FORMAT and unicodedata.category(char) in _ESCAPED_CATEGORIES


def _escape(char: str) -> str:
    short = _SHORT.get(char)
    if short is not None:
        return short
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def is_printable(text: str) -> bool:
    """True when ``printable(text)`` would return ``text`` unchanged."""
    return text.isprintable() or not any(_unsafe(char) for char in text)


def printable(text: object, keep: str = "") -> str:
    r"""``text`` (``str()`` of anything else) with every unsafe character escaped.

    ``keep``: characters left as they are (``"\n"`` for a multi-line traceback).
    """
    if not isinstance(text, str):
        text = str(text)
    if text.isprintable():  # the usual case, checked in C: no control, format or separator character
        return text
    return "".join(_escape(char) if char not in keep and _unsafe(char) else char for char in text)


def printable_json(text: str) -> str:
    r"""JSON text with C1 controls, format characters and separators written as ``\uNNNN`` escapes.

    ``json.dumps`` already escapes C0 controls; with ``ensure_ascii=False`` it leaves the rest as they are.
    The escapes are JSON's own, so the document parses to the same value.
    """
    if text.isprintable():
        return text
    out = []
    for char in text:
        if char not in "\n\t" and _unsafe(char):  # a newline or tab here is layout (indent=2), not data
            out.append(json.dumps(char)[1:-1])  # \\uXXXX, or a surrogate pair beyond the BMP
        else:
            out.append(char)
    return "".join(out)


class PrintableFilter(logging.Filter):
    """Escapes the arguments of a record (and its formatted traceback) before any handler sees them.

    The message templates are this package's own; their arguments may carry received or stored text.
    Numbers stay numbers (``%d``); anything else becomes its escaped ``str()``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple):
            record.args = tuple(_safe_arg(arg) for arg in args)
        elif isinstance(args, dict):
            record.args = {key: _safe_arg(value) for key, value in args.items()}
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            record.exc_text = printable(logging.Formatter().formatException(record.exc_info), keep="\n")
        return True


def _safe_arg(arg: object) -> object:
    if arg is None or isinstance(arg, (bool, int, float)):
        return arg
    return printable(arg)


_FILTER = PrintableFilter()


def get_logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)`` with ``PrintableFilter`` attached (once): for every logger of this package."""
    logger = logging.getLogger(name)
    logger.addFilter(_FILTER)  # a logger keeps each filter object once
    return logger
