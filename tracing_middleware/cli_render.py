"""Output of the command line: the trace tree with its waterfall, the trace list, tail lines, JSON lines.

Every layout is built once as lines of styled segments; ``Printer`` writes them either as plain text (styles
dropped) or through ``rich`` (styles applied), so both outputs have the same columns.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from tracing_middleware.exporters.sqlite_read import StoredRun

if TYPE_CHECKING:
    pass

__all__ = [
    "ASCII", "Glyphs", "Line", "TreeRow", "WATERFALL_WIDTH", "bar_span", "cell_width", "format_duration",
    "format_local", "glyphs_for", "render_table", "render_trace", "tail_line", "tree_rows",
]  # fmt: skip

WATERFALL_WIDTH = 40
MAX_NAME_WIDTH = 56
MAX_ERROR_WIDTH = 100
MIN_LABEL_WIDTH = 16
MAX_CELL_WIDTH = 48

Segment = tuple[str, str]  # (text, style); the style is a rich style string, "" for none
Line = list[Segment]

TYPE_STYLES = {
    "chain": "blue", "llm": "magenta", "tool": "yellow", "retriever": "green",
    "embedding": "cyan", "prompt": "bright_blue", "parser": "bright_black",
}  # fmt: skip


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


# -- text measures ------------------------------------------------------------------------------------


def cell_width(text: str) -> int:
    """Terminal cells ``text`` takes: wide East Asian characters take two, combining marks none."""
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
    """The first non-blank line of ``text``, stripped."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


# -- the tree -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TreeRow:
    """One run placed in the tree: its guide prefix, and the guide for lines printed under it."""

    run: StoredRun
    depth: int
    prefix: str
    under: str


def _ancestors(dotted_order: str) -> list[str]:
    """Run ids named by a dotted order, nearest ancestor first (the run itself left out)."""
    return [segment[-36:].lower() for segment in reversed(dotted_order.split(".")[:-1])]


def tree_rows(runs: Sequence[StoredRun], glyphs: Glyphs = UNICODE) -> list[TreeRow]:
    """Runs in tree order: each parent before its children, siblings by start time.

    A run whose parent is not among ``runs`` hangs under its nearest ancestor that is (read from its dotted
    order), or becomes a top-level row.
    """
    by_id = {run.id: run for run in runs}
    children: dict[str | None, list[StoredRun]] = {}
    for run in runs:
        parent: str | None = run.parent_run_id if run.parent_run_id in by_id else None
        if parent is None:
            parent = next((a for a in _ancestors(run.dotted_order) if a in by_id and a != run.id), None)
        children.setdefault(parent, []).append(run)
    for group in children.values():
        group.sort(key=lambda run: (run.start_us, run.dotted_order))

    rows: list[TreeRow] = []
    seen: set[str] = set()
    # Explicit stack: traces can be deeper than Python's recursion limit. Items: (run, depth, guides, is_last).
    tops = children.get(None, [])
    stack: list[tuple[StoredRun, int, str, bool]] = [(run, 0, "", True) for run in reversed(tops)]
    while stack or len(seen) < len(by_id):
        if not stack:  # a cycle of parent links left runs unreached: show them at the top level
            stack.append((next(run for run in runs if run.id not in seen), 0, "", True))
        run, depth, guides, is_last = stack.pop()
        if run.id in seen:
            continue
        seen.add(run.id)
        kids = [kid for kid in children.get(run.id, []) if kid.id not in seen]
        if depth == 0:
            prefix, inner = "", ""
        else:
            prefix = guides + (glyphs.last if is_last else glyphs.branch)
            inner = guides + ("   " if is_last else glyphs.pipe)
        rows.append(TreeRow(run, depth, prefix, inner + (glyphs.pipe if kids else "   ")))
        for index in range(len(kids) - 1, -1, -1):
            stack.append((kids[index], depth + 1, inner, index == len(kids) - 1))
    return rows


def bar_span(start_us: int, end_us: int, trace_start_us: int, total_us: int, width: int) -> tuple[int, int]:
    """(first cell, cell count) of a bar in a waterfall ``width`` cells wide spanning ``total_us``.

    The first cell is the start offset scaled down; the bar covers every cell its time touches, at least one.
    """
    total = max(total_us, 1)
    offset = min(width - 1, max(0, (start_us - trace_start_us) * width // total))
    end_cell = -(-(end_us - trace_start_us) * width // total)  # ceiling division
    length = min(max(1, end_cell - offset), width - offset)
    return offset, length


def render_trace(runs: Sequence[StoredRun], glyphs: Glyphs = UNICODE, width: int = WATERFALL_WIDTH) -> list[Line]:
    """A trace as a header, then one row per run: tree, waterfall bar, run type, duration, service.

    A failed run is marked and followed by the first line of its error.
    """
    rows = tree_rows(runs, glyphs)
    if not rows:
        return []
    trace_start = min(run.start_us for run in runs)
    trace_end = max(max(run.end_us or run.start_us for run in runs), trace_start + 1)
    total = trace_end - trace_start
    errors = sum(1 for run in runs if run.error)
    count = f"{len(runs)} run{'s' if len(runs) != 1 else ''}"
    root = rows[0].run

    def label(row: TreeRow) -> str:
        return (f"{glyphs.error} " if row.run.error else "") + row.run.name

    name_w = min(MAX_NAME_WIDTH, max(cell_width("NAME"), *(len(row.prefix) + cell_width(label(row)) for row in rows)))
    # When some row does not fit, the deepest guides are cut on the left so that names stay readable.
    guides_w = name_w if name_w < MAX_NAME_WIDTH else name_w - MIN_LABEL_WIDTH
    type_w = max(4, *(len(row.run.run_type) for row in rows))
    durations = [format_duration(row.run.duration_us) for row in rows]
    dur_w = max(8, *(len(d) for d in durations))
    status = f"{errors} error{'s' if errors != 1 else ''}" if errors else "ok"
    lines: list[Line] = [
        [("trace ", "bold"), (root.trace_id, "bold cyan"), ("  " + root.name, "bold")],
        [(f"{format_local(trace_start)}  {format_duration(total)}  {count}  ", "dim"),
         (status, "bold red" if errors else "green")],
        [],
    ]  # fmt: skip
    scale_end = format_duration(total)
    scale = "0" + " " * max(1, width - 1 - len(scale_end)) + scale_end
    lines.append([(
        f"{fit('NAME', name_w, glyphs.ellipsis)}  {fit(scale, width, glyphs.ellipsis)}  "
        f"{'TYPE':<{type_w}}  {'DURATION':>{dur_w}}  SERVICE", "bold",
    )])  # fmt: skip
    for row, duration in zip(rows, durations, strict=True):
        run = row.run
        offset, length = bar_span(run.start_us, run.end_us or trace_end, trace_start, total, width)
        type_style = TYPE_STYLES.get(run.run_type, "")
        bar_style = "red" if run.error else type_style
        prefix = clip_left(row.prefix, guides_w, glyphs.ellipsis)
        lines.append([
            (prefix, "dim"),
            (fit(label(row), name_w - len(prefix), glyphs.ellipsis),
             "bold red" if run.error else ("bold" if row.depth == 0 else "")),
            ("  " + " " * offset, ""),
            (glyphs.bar * length, bar_style),
            (" " * (width - offset - length) + "  ", ""),
            (f"{run.run_type:<{type_w}}", type_style),
            (f"  {duration:>{dur_w}}  ", "yellow" if run.end_us is None else ""),
            (run.service or "-", "cyan"),
        ])  # fmt: skip
        if run.error:
            message = fit(first_line(run.error), MAX_ERROR_WIDTH, glyphs.ellipsis).rstrip()
            lines.append(
                [(clip_left(row.under, guides_w + 3, glyphs.ellipsis), "dim"), (f"{glyphs.error} {message}", "red")]
            )
        for text in event_lines(run):  # log lines recorded on the run, retries
            lines.append([(clip_left(row.under, guides_w + 3, glyphs.ellipsis), "dim"), (text, "yellow")])
    return lines


def event_lines(run: StoredRun, limit: int = 10) -> list[str]:
    """One line per ``log`` and ``retry`` event of ``run`` (the first ``limit``), e.g. ``· WARNING app: disk full``."""
    out: list[str] = []
    for event in run.events if isinstance(run.events, list) else ():
        attrs = event.get("kwargs") if isinstance(event, dict) else None
        if not isinstance(attrs, dict) or event.get("name") not in ("log", "retry"):
            continue
        if event["name"] == "log":
            text = f"{attrs.get('level', '')} {attrs.get('logger', '')}: {attrs.get('message', '')}"
        else:
            text = f"retry: {attrs.get('reason', '')}"
        if len(out) == limit:
            out.append("· …")
            break
        printable = "".join(c if c.isprintable() else "?" for c in first_line("· " + text))  # no terminal escapes
        out.append(fit(printable, MAX_ERROR_WIDTH, "…").rstrip())
    return out


# -- lists ------------------------------------------------------------------------------------------------


def render_table(
    headers: Sequence[str], rows: Sequence[Sequence[Segment]], right: frozenset[int], glyphs: Glyphs = UNICODE
) -> list[Line]:
    """Aligned columns under bold headers; columns whose index is in ``right`` are right-aligned.

    A cell wider than ``MAX_CELL_WIDTH`` is cut, so one long name cannot push the other columns away.
    """
    widths = [cell_width(h) for h in headers]
    for row in rows:
        for index, (text, _style) in enumerate(row):
            widths[index] = min(MAX_CELL_WIDTH, max(widths[index], cell_width(text)))
    last = len(headers) - 1

    def pad(text: str, index: int) -> str:
        if index == last and index not in right:
            return text  # no trailing blanks
        return fit(text, widths[index], glyphs.ellipsis, right=index in right)

    lines: list[Line] = [[("  ".join(pad(h, i) for i, h in enumerate(headers)), "bold")]]
    for row in rows:
        line: Line = []
        for index, (text, style) in enumerate(row):
            line.append((pad(text, index), style))
            if index != last:
                line.append(("  ", ""))
        lines.append(line)
    return lines


def tail_line(run: StoredRun, glyphs: Glyphs = UNICODE) -> Line:
    """One stored run as a single line: end time, service, trace id, type, name (indented by depth), duration."""
    depth = run.dotted_order.count(".")
    line: Line = [
        (format_local(run.end_us or run.start_us, precise=True) + "  ", "dim"),
        (fit(run.service or "-", 12, glyphs.ellipsis) + "  ", "cyan"),
        (run.trace_id + "  ", "dim"),
        (f"{run.run_type:<9}  ", TYPE_STYLES.get(run.run_type, "")),
        ("  " * min(depth, 8) + run.name, "bold red" if run.error else ("bold" if depth == 0 else "")),
        (f"  {format_duration(run.duration_us)}", ""),
    ]
    if run.error:
        message = fit(first_line(run.error), MAX_ERROR_WIDTH, glyphs.ellipsis).rstrip()
        line.append((f"  {glyphs.error} {message}", "red"))
    return line
