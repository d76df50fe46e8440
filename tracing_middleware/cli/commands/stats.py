"""``tracing-middleware stats``: the store's size and counts, one section per source of numbers.

Each entry of ``SECTIONS`` is a function of the parsed arguments returning a ``Section`` (or None to
print nothing): adding numbers from another source is one function and one entry. ``--json`` prints
``{section.key: {stat.key: value}}``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tracing_middleware.cli.args import EXIT_OK
from tracing_middleware.cli.output import Printer, dump_json
from tracing_middleware.cli.render import Line
from tracing_middleware.cli.text import cell_width, format_local, format_size, shown
from tracing_middleware.exporters.sqlite_prune import store_stats
from tracing_middleware.exporters.sqlite_schema import default_path
from tracing_middleware.exporters.sqlite_stats import read_stats

__all__ = ["SECTIONS", "Section", "Stat", "add_parser", "exporters_section", "run", "store_section"]

HELP = (
    "Print the store's size on disk, trace and run counts, its time span, and the counters of the apps'"
    " exporters (exported, dropped, failed, lost at exit)."
)


@dataclass(frozen=True)
class Stat:
    """One number: ``key`` for JSON, ``label`` and ``text`` for people, ``value`` as JSON gets it."""

    key: str
    label: str
    value: Any
    text: str | None = None  # default: str(value)


@dataclass(frozen=True)
class Section:
    """A titled group of numbers."""

    key: str
    title: str
    stats: list[Stat] = field(default_factory=list)


def store_section(args: argparse.Namespace) -> Section:
    """The SQLite store named by ``--db``: path, size, reclaimable space, counts, oldest and newest run."""
    numbers = store_stats(default_path() if args.db is None else args.db)

    def when(us: int | None) -> str:
        return "-" if us is None else format_local(us)

    return Section("store", "trace store", [
        Stat("path", "path", str(numbers.path)),
        Stat("size_bytes", "size on disk", numbers.size, format_size(numbers.size)),
        Stat("free_bytes", "free space in the file", numbers.free_bytes,
             format_size(numbers.free_bytes)),
        Stat("traces", "traces", numbers.traces),
        Stat("runs", "runs", numbers.runs),
        Stat("failed_runs", "failed runs", numbers.failed_runs),
        Stat("services", "services", numbers.services),
        Stat("oldest_us", "oldest run", numbers.oldest_us, when(numbers.oldest_us)),
        Stat("newest_us", "newest run", numbers.newest_us, when(numbers.newest_us)),
    ])  # fmt: skip


def exporters_section(args: argparse.Namespace) -> Section | None:
    """Exporter counters the apps writing this store kept in it, per service and exporter (summed over processes)."""
    rows = read_stats(default_path() if args.db is None else args.db)
    if not rows:
        return None
    stats = []
    for row in rows:
        numbers = {
            "exported": row.exported, "dropped": row.dropped, "failed": row.failed,
            "lost_at_exit": row.lost_at_exit, "queued": row.queued, "processes": row.processes,
        }  # fmt: skip
        text = ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in numbers.items())
        stats.append(Stat(f"{row.service}/{row.exporter}", f"{row.service} {row.exporter}", numbers, text))
    return Section("exporters", "exporters (per service, all processes)", stats)


# In print order; each is called with the parsed arguments.
SECTIONS: list[Callable[[argparse.Namespace], Section | None]] = [store_section, exporters_section]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add this command's subparser and its arguments."""
    parser: argparse.ArgumentParser = subparsers.add_parser("stats", help=HELP, description=HELP)
    parser.add_argument("--json", action="store_true", help="print the numbers as one JSON object")
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the command; the exit status."""
    out = Printer.for_args(args)
    sections = [section for make in SECTIONS if (section := make(args)) is not None]
    if args.json:
        dump_json({s.key: {stat.key: stat.value for stat in s.stats} for s in sections}, out.stream, indent=2)
    else:
        out.lines(render_sections(sections))
    return EXIT_OK


def render_sections(sections: list[Section]) -> list[Line]:
    """Each section as a bold title, then ``label  value`` lines with the values in one column."""
    lines: list[Line] = []
    for section in sections:
        if lines:
            lines.append([])
        lines.append([(shown(section.title), "bold")])
        width = max((cell_width(shown(stat.label)) for stat in section.stats), default=0)
        for stat in section.stats:
            label = shown(stat.label)
            text = shown(stat.value) if stat.text is None else shown(stat.text)
            lines.append([("  " + label + " " * (width - cell_width(label)) + "  ", "dim"), (text, "")])
    return lines
