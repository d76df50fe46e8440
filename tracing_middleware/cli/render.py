"""The command line's layouts: the trace tree with its waterfall, the trace list, tail lines.

Every layout is built once as lines of styled segments; ``Printer`` writes them either as plain text (styles
dropped) or through ``rich`` (styles applied), so both outputs have the same columns. Stored strings are
passed through ``shown`` before they are measured: a run name's control characters appear escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tracing_middleware.cli.text import (
    UNICODE,
    Glyphs,
    cell_width,
    clip_left,
    first_line,
    fit,
    format_duration,
    format_local,
    shown,
)
from tracing_middleware.exporters.sqlite_read import StoredRun

__all__ = [
    "Line", "Segment", "TreeRow", "WATERFALL_WIDTH", "bar_span", "render_table", "render_trace", "root_missing",
    "tail_line", "tree_rows",
]  # fmt: skip

WATERFALL_WIDTH = 40
MAX_NAME_WIDTH = 56
MAX_ERROR_WIDTH = 100
MIN_LABEL_WIDTH = 16
MAX_CELL_WIDTH = 48
IN_PROGRESS = "in progress"

Segment = tuple[str, str]  # (text, style); the style is a rich style string, "" for none
Line = list[Segment]

TYPE_STYLES = {
    "chain": "blue", "llm": "magenta", "tool": "yellow", "retriever": "green",
    "embedding": "cyan", "prompt": "bright_blue", "parser": "bright_black",
}  # fmt: skip


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


def root_missing(runs: Sequence[StoredRun]) -> str | None:
    """The id of the parent the trace's top stored run waits for, when the trace's root is not stored yet."""
    if not runs or any(run.parent_run_id is None for run in runs):
        return None
    ids = {run.id for run in runs}
    for run in sorted(runs, key=lambda run: (run.dotted_order.count("."), run.start_us)):
        if run.parent_run_id not in ids:
            return run.parent_run_id
    return None


def tree_rows(runs: Sequence[StoredRun], glyphs: Glyphs = UNICODE, *, nested: bool = False) -> list[TreeRow]:
    """Runs in tree order: each parent before its children, siblings by start time.

    A run whose parent is not among ``runs`` hangs under its nearest ancestor that is (read from its dotted
    order), or becomes a top-level row. ``nested``: top-level rows are drawn as children of a row above
    them (the placeholder of a root that is not stored yet).
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
    top = 1 if nested else 0
    # Explicit stack: traces can be deeper than Python's recursion limit. Items: (run, depth, guides, is_last).
    tops = children.get(None, [])
    stack: list[tuple[StoredRun, int, str, bool]] = [
        (run, top, "", index == 0) for index, run in enumerate(reversed(tops))
    ]
    while stack or len(seen) < len(by_id):
        if not stack:  # a cycle of parent links left runs unreached: show them at the top level
            stack.append((next(run for run in runs if run.id not in seen), top, "", True))
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


def status_segments(errors: int, in_progress: bool) -> list[Segment]:
    """``ok`` / ``N errors`` / ``in progress``, styled (both of the last two when both hold)."""
    parts: list[Segment] = []
    if errors:
        parts.append((f"{errors} error{'s' if errors != 1 else ''}", "bold red"))
    if in_progress:
        parts.append((", " if parts else "", ""))
        parts.append((IN_PROGRESS, "yellow"))
    return parts or [("ok", "green")]


def render_trace(runs: Sequence[StoredRun], glyphs: Glyphs = UNICODE, width: int = WATERFALL_WIDTH) -> list[Line]:
    """A trace as a header, then one row per run: tree, waterfall bar, run type, duration, service.

    A failed run is marked and followed by the first line of its error. When the trace's root run is not
    stored yet, a placeholder row names the parent that is awaited and the stored runs hang under it.
    """
    waiting_for = root_missing(runs)
    rows = tree_rows(runs, glyphs, nested=waiting_for is not None)
    if not rows:
        return []
    trace_start = min(run.start_us for run in runs)
    trace_end = max(max(run.end_us or run.start_us for run in runs), trace_start + 1)
    total = trace_end - trace_start
    errors = sum(1 for run in runs if run.error)
    count = f"{len(runs)} run{'s' if len(runs) != 1 else ''}"
    top = rows[0].run
    running = waiting_for is not None or any(run.end_us is None for run in runs)
    names = {row.run.id: shown(row.run.name) for row in rows}
    placeholder = None
    if waiting_for is not None:
        placeholder = f"{glyphs.ellipsis} root not stored yet (parent {shown(waiting_for)})"

    def label(row: TreeRow) -> str:
        return (f"{glyphs.error} " if row.run.error else "") + names[row.run.id]

    widest = max(len(row.prefix) + cell_width(label(row)) for row in rows)
    name_w = min(MAX_NAME_WIDTH, max(cell_width("NAME"), widest))
    # When some row does not fit, the deepest guides are cut on the left so that names stay readable.
    guides_w = name_w if name_w < MAX_NAME_WIDTH else name_w - MIN_LABEL_WIDTH
    type_w = max(4, *(cell_width(shown(row.run.run_type)) for row in rows))
    durations = [format_duration(row.run.duration_us) for row in rows]
    dur_w = max(8, *(len(d) for d in durations))
    title = names[top.id] if waiting_for is None else f"{glyphs.ellipsis} {names[top.id]}"
    lines: list[Line] = [
        [("trace ", "bold"), (shown(top.trace_id), "bold cyan"), ("  " + title, "bold")],
        [(f"{format_local(trace_start)}  {format_duration(total)}  {count}  ", "dim"),
         *status_segments(errors, running)],
        [],
    ]  # fmt: skip
    scale_end = format_duration(total)
    scale = "0" + " " * max(1, width - 1 - len(scale_end)) + scale_end
    lines.append([(
        f"{fit('NAME', name_w, glyphs.ellipsis)}  {fit(scale, width, glyphs.ellipsis)}  "
        f"{'TYPE':<{type_w}}  {'DURATION':>{dur_w}}  SERVICE", "bold",
    )])  # fmt: skip
    if placeholder is not None:
        lines.append([(placeholder, "yellow")])  # no bar: nothing is known of its timing
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
            (fit(shown(run.run_type), type_w, glyphs.ellipsis), type_style),
            (f"  {duration:>{dur_w}}  ", "yellow" if run.end_us is None else ""),
            (shown(run.service) or "-", "cyan"),
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
        out.append(fit(shown(first_line("· " + text)), MAX_ERROR_WIDTH, "…").rstrip())  # escaped, as stored text is
    return out


# -- lists ------------------------------------------------------------------------------------------------


def render_table(
    headers: Sequence[str], rows: Sequence[Sequence[Segment]], right: frozenset[int], glyphs: Glyphs = UNICODE
) -> list[Line]:
    """Aligned columns under bold headers; columns whose index is in ``right`` are right-aligned.

    A cell wider than ``MAX_CELL_WIDTH`` is cut, so one long name cannot push the other columns away.
    Cells are printed as given: the caller passes stored text through ``shown``.
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
        (fit(shown(run.service) or "-", 12, glyphs.ellipsis) + "  ", "cyan"),
        (shown(run.trace_id) + "  ", "dim"),
        (f"{shown(run.run_type):<9}  ", TYPE_STYLES.get(run.run_type, "")),
        ("  " * min(depth, 8) + shown(run.name), "bold red" if run.error else ("bold" if depth == 0 else "")),
        (f"  {format_duration(run.duration_us)}", ""),
    ]
    if run.error:
        message = fit(first_line(run.error), MAX_ERROR_WIDTH, glyphs.ellipsis).rstrip()
        line.append((f"  {glyphs.error} {message}", "red"))
    return line
