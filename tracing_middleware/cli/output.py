r"""Where the command line's output goes: styled lines to the terminal (``rich`` or plain), runs as JSON lines.

Nothing from the store reaches the terminal as a control sequence: every segment is escaped on its way
out (``printable``), whatever the layout did, and JSON has C1 controls and invisible format characters
written as ``\uNNNN``. Our own styles are applied by ``rich`` around the escaped text.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from typing import IO, TYPE_CHECKING, Any

from tracing_middleware.cli.render import Line
from tracing_middleware.cli.text import ASCII, glyphs_for
from tracing_middleware.core.env import env_flag
from tracing_middleware.core.printable import printable, printable_json
from tracing_middleware.exporters.sqlite_read import StoredRun

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["PROG", "Printer", "dump_json", "warn", "write_lines", "write_lines_with_progress"]

PROG = "tracing-middleware"


def warn(message: object) -> None:
    """One line on stderr, prefixed with the program's name, escaped like every other output."""
    print(f"{PROG}: {printable(message)}", file=sys.stderr, flush=True)


class Printer:
    """Writes styled lines to stdout: through ``rich`` when available and wanted, as plain text otherwise."""

    def __init__(self, plain: bool) -> None:
        self.stream: IO[str] = sys.stdout
        self.encoding = getattr(self.stream, "encoding", None) or "utf-8"
        self.glyphs = glyphs_for(self.encoding)
        self.ascii = self.glyphs is ASCII  # a terminal that cannot show box drawing: names may not fit either
        self.console: Console | None = None if plain else _rich_console(self.stream)

    @classmethod
    def for_args(cls, args: argparse.Namespace) -> Printer:
        """Plain when ``--plain`` was given or ``TRACING_MIDDLEWARE_PLAIN`` is set, else colored if possible."""
        env = env_flag("TRACING_MIDDLEWARE_PLAIN", False)
        return cls(plain=bool(getattr(args, "plain", False)) or env)

    def lines(self, lines: Iterable[Line]) -> None:
        for line in lines:
            self.line(line)

    def line(self, line: Line) -> None:
        # Layouts escape stored text before measuring it; this is the guarantee for every other line.
        line = [(printable(text), style) for text, style in line]
        if self.ascii:  # unprintable characters become "?" rather than a UnicodeEncodeError
            line = [(text.encode(self.encoding, "replace").decode(self.encoding), style) for text, style in line]
        if self.console is not None:
            from rich.text import Text

            self.console.print(Text.assemble(*line), soft_wrap=True)
        else:
            self.stream.write("".join(text for text, _style in line) + "\n")

    def flush(self) -> None:
        self.stream.flush()


def _rich_console(stream: IO[str]) -> Console | None:
    try:
        from rich.console import Console
    except ImportError:
        return None
    # rich reads NO_COLOR and FORCE_COLOR itself; markup and highlighting stay off so run names print as they are.
    return Console(file=stream, highlight=False, markup=False, emoji=False, soft_wrap=True)


def dump_json(value: Any, file: IO[str], *, ensure_ascii: bool = False, indent: int | None = None) -> None:
    r"""``value`` as JSON, with C1 controls and invisible format characters escaped as ``\uNNNN``."""
    file.write(printable_json(json.dumps(value, ensure_ascii=ensure_ascii, indent=indent)) + "\n")


def write_lines(
    runs: Iterable[StoredRun], file: IO[str], advance: Callable[[], None] | None = None, *, ensure_ascii: bool = False
) -> int:
    """Write each run as one line of JSON (non-ASCII escaped when ``ensure_ascii``); the number written."""
    count = 0
    for run in runs:
        text = json.dumps(run.to_dict(), ensure_ascii=ensure_ascii, separators=(",", ":"))
        file.write(printable_json(text) + "\n")
        count += 1
        if advance is not None and count % 256 == 0:
            advance()
    return count


def write_lines_with_progress(runs: Iterable[StoredRun], file: IO[str], total: int | None) -> int:
    """``write_lines`` with a transient ``rich`` progress bar on stderr (``total`` None: unknown)."""
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(file=sys.stderr), transient=True) as progress:
        task = progress.add_task("exporting runs", total=total)
        count = write_lines(runs, file, lambda: progress.advance(task, 256))
        progress.update(task, completed=count)
    return count
