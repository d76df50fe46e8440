"""Text measures and formats shared by every layout: cells, cutting, durations, local times, glyphs.

Stored strings enter a layout through ``shown`` (escaped, on one line) before they are measured, so the
columns are computed on what the terminal will really print.
"""

from __future__ import annotations

import time
import unicodedata
from typing import NamedTuple

from tracing_middleware.core.printable import printable

__all__ = [
    "ASCII", "UNICODE", "Glyphs", "cell_width", "clip_left", "first_line", "fit", "format_duration",
    "format_local", "format_size", "glyphs_for", "shown",
]  # fmt: skip


class Glyphs(NamedTuple):
    """The characters used for tree guides, bars and the error marker."""

    branch: str
    last: str
    pipe: str
    bar: str
    error: str
    ellipsis: str


UNICODE = Glyphs(branch="├─ ", last="└─ ", pipe="│  ", bar="█", error="✗", ellipsis="…")
ASCII = Glyphs(branch="|- ", last="`- ", pipe="|  ", bar="#", error="!", ellipsis="~")


def glyphs_for(encoding: str | None) -> Glyphs:
    """Unicode glyphs when the output encoding can write them, ASCII otherwise."""
    try:
        "".join(UNICODE).encode(encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return ASCII
    return UNICODE


def shown(value: object) -> str:
    """A stored value as it is printed: ``str()``, with control and invisible characters escaped."""
    return printable("" if value is None else value)


def cell_width(text: str) -> int:
    """Terminal cells ``text`` takes: wide East Asian characters take two, combining marks none."""
    if text.isascii():
        return len(text)
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def fit(text: str, width: int, ellipsis: str, *, right: bool = False) -> str:
    """``text`` cut to ``width`` cells (ending in ``ellipsis`` when cut) and padded to exactly ``width``."""
    if cell_width(text) > width:
        kept, used = [], 0
        for char in text:
            used += cell_width(char)
            if used > width - 1:
                break
            kept.append(char)
        text = "".join(kept) + ellipsis
    pad = " " * (width - cell_width(text))
    return pad + text if right else text + pad


def clip_left(guides: str, width: int, ellipsis: str) -> str:
    """Tree guides (single-cell characters) cut on the left to at most ``width``, marked by ``ellipsis``."""
    return guides if len(guides) <= width else ellipsis + guides[len(guides) - width + 1 :]


def format_duration(us: int | None) -> str:
    """A short human duration: ``850us``, ``12.3ms``, ``1.24s``, ``2m05s``; ``running`` for None."""
    if us is None:
        return "running"
    if us < 1_000:
        return f"{us}us"
    if us < 1_000_000:
        return f"{us / 1_000:.1f}ms"
    if us < 60_000_000:
        return f"{us / 1_000_000:.2f}s"
    minutes, seconds = divmod(us // 1_000_000, 60)
    return f"{minutes}m{seconds:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def format_local(us: int, *, precise: bool = False) -> str:
    """Epoch microseconds as local time, ``YYYY-MM-DD HH:MM:SS`` (``HH:MM:SS.mmm`` when ``precise``)."""
    secs, frac = divmod(us, 1_000_000)
    local = time.localtime(secs)
    if precise:
        return time.strftime("%H:%M:%S", local) + f".{frac // 1000:03d}"
    return time.strftime("%Y-%m-%d %H:%M:%S", local)


def first_line(text: str) -> str:
    """The first non-blank line of ``text``, stripped and escaped (line breaks end the line first)."""
    for line in text.splitlines():
        if line.strip():
            return shown(line.strip())
    return ""


def format_size(size: int) -> str:
    """Bytes in the largest unit that keeps a number of 1 or more: ``812 B``, ``4.0 KiB``, ``1.3 GiB``."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
