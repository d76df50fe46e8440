"""Looking at recorded runs and asserting on their tree: ``TraceRecorder`` and ``TraceParent``.

Plain classes that need no pytest; the pytest plugin (``tracing_middleware.testing.plugin``) hands them
out as the ``traces`` and ``trace_parent`` fixtures.

Tree shapes for ``TraceRecorder.assert_tree`` are nested dicts from run name to the shape of that run's
children; ``{}`` is a run without children, and a list of shapes stands for several sibling runs of
the same name, one shape each::

    {"GET /items/{item_id}": {"load": {}, "GET api.internal/x": {}}}
    {"GET /batch": {"fetch": [{}, {}]}}          # two "fetch" children, neither with children

The comparison is exact (every recorded run must appear) and ignores the order of siblings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple, Union

from tracing_middleware.core import config
from tracing_middleware.core.run_tree import RunTree
from tracing_middleware.exporters.memory import InMemoryExporter

__all__ = ["TraceRecorder", "TraceParent", "Shape"]

Shape = Mapping[str, Union["Shape", Sequence["Shape"], None]]
_SHAPE_HELP = (
    "a tree shape is a dict of run name -> shape of its children, e.g. "
    "{'GET /items/{item_id}': {'load': {}}}; {} (or None) for no children, a list of shapes for "
    "several siblings of the same name"
)


class _Node(NamedTuple):
    name: str
    children: tuple[_Node, ...]


def _canonical(nodes: Sequence[_Node]) -> tuple[Any, ...]:
    """A form of a forest that ignores sibling order, for equality."""
    return tuple(sorted((node.name, _canonical(node.children)) for node in nodes))


def _shape_nodes(shape: Any) -> tuple[_Node, ...]:
    if shape is None:
        return ()
    if not isinstance(shape, Mapping):
        raise TypeError(f"{_SHAPE_HELP}; got {type(shape).__name__}")
    nodes: list[_Node] = []
    for name, children in shape.items():
        if not isinstance(name, str):
            raise TypeError(f"{_SHAPE_HELP}; got the key {name!r}")
        if isinstance(children, Sequence) and not isinstance(children, str):
            nodes.extend(_Node(name, _shape_nodes(each)) for each in children)
        else:
            nodes.append(_Node(name, _shape_nodes(children)))
    return tuple(nodes)


def _names(counts: Counter[str]) -> str:
    return ", ".join(f"{name!r}" + (f" x{count}" if count > 1 else "") for name, count in sorted(counts.items()))


def _difference(expected: Sequence[_Node], actual: Sequence[_Node], where: str) -> str | None:
    """The first place where two forests differ, in words; None when they match."""
    want, got = Counter(n.name for n in expected), Counter(n.name for n in actual)
    if want != got:
        missing = Counter({name: count for name, count in want.items() if name not in got})
        unexpected = Counter({name: count for name, count in got.items() if name not in want})
        parts = [f"missing {_names(missing)}"] if missing else []
        parts += [f"unexpected {_names(unexpected)}"] if unexpected else []
        parts += [
            f"{name!r} {want[name]} expected, {got[name]} recorded"
            for name in sorted(want.keys() & got.keys())
            if want[name] != got[name]
        ]
        return f"{where}: {'; '.join(parts)}"
    for name in want:
        mine = [n for n in expected if n.name == name]
        theirs = [n for n in actual if n.name == name]
        if len(mine) == 1:
            found = _difference(mine[0].children, theirs[0].children, f"under {name!r}")
            if found:
                return found
        elif _canonical(mine) != _canonical(theirs):
            return f"{where}: the {len(mine)} runs named {name!r} do not have the expected children"
    return None


def _shape_outline(nodes: Sequence[_Node], depth: int = 1) -> list[str]:
    lines = []
    for node in nodes:
        lines.append("  " * depth + node.name)
        lines.extend(_shape_outline(node.children, depth + 1))
    return lines


def _first_line(text: str, limit: int = 80) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _order(run: RunTree) -> tuple[int, str]:
    return run.start_us, run.dotted_order


class TraceRecorder:
    """The runs finished while recording, and ways to look at them as trees.

    ``runs`` are in the order they finished; every other list is in the order the runs started. A run
    counts as a root here when its parent was not recorded (a remote caller's run, or the
    ``trace_parent`` run, which ends only after the test).
    """

    def __init__(self, exporter: InMemoryExporter | None = None) -> None:
        self.exporter = exporter if exporter is not None else InMemoryExporter()
        self._pending: dict[str, RunTree] = {}  # runs still open that children may name (trace_parent)

    @property
    def runs(self) -> list[RunTree]:
        """Every recorded run, in the order they finished."""
        return self.exporter.runs

    def __len__(self) -> int:
        return len(self.exporter.runs)

    def __iter__(self) -> Iterator[RunTree]:
        return iter(self.exporter.runs)

    def clear(self) -> None:
        """Forget the runs recorded so far."""
        self.exporter.clear()

    def flush(self, timeout: float | None = 5.0) -> bool:
        """Wait until every finished run has reached the exporters; False if ``timeout`` passed first."""
        return config.flush(timeout)

    def watch(self, run: RunTree) -> None:
        """Let ``parent()`` and the outline name ``run`` before it ends (as ``trace_parent`` does)."""
        self._pending[run.id] = run

    # -- finding runs -------------------------------------------------------------------------------

    def find(self, name: str | None = None, run_type: str | None = None, **metadata: Any) -> list[RunTree]:
        """Recorded runs with this name, run type and metadata values (each optional), in start order."""
        found = [
            run
            for run in self.exporter.runs
            if (name is None or run.name == name)
            and (run_type is None or run.run_type == run_type)
            and all(key in run.metadata and run.metadata[key] == value for key, value in metadata.items())
        ]
        return sorted(found, key=_order)

    def one(self, name: str | None = None, run_type: str | None = None, **metadata: Any) -> RunTree:
        """The only recorded run matching (see ``find``); AssertionError showing what was recorded otherwise."""
        __tracebackhide__ = True
        found = self.find(name, run_type, **metadata)
        if len(found) != 1:
            wanted = [f"name={name!r}"] if name is not None else []
            wanted += [f"run_type={run_type!r}"] if run_type is not None else []
            wanted += [f"{key}={value!r}" for key, value in metadata.items()]
            raise AssertionError(
                f"expected exactly one run with {', '.join(wanted) or 'any name'}, found {len(found)}\n"
                f"recorded runs:\n{self.outline()}"
            )
        return found[0]

    def by_trace(self) -> dict[str, list[RunTree]]:
        """Recorded runs grouped by trace id, each group in dotted order (parents before children)."""
        return self.exporter.traces()

    def roots(self) -> list[RunTree]:
        """Recorded runs whose parent was not recorded, in start order."""
        runs = self.exporter.runs
        ids = {run.id for run in runs}
        return sorted((run for run in runs if run.parent_run_id not in ids), key=_order)

    def children(self, run: RunTree | str) -> list[RunTree]:
        """The recorded children of ``run`` (a run or a run id), in start order."""
        run_id = run if isinstance(run, str) else run.id
        return sorted((r for r in self.exporter.runs if r.parent_run_id == run_id), key=_order)

    def parent(self, run: RunTree) -> RunTree | None:
        """The parent of ``run`` if it was recorded (or is the open ``trace_parent`` run), else None."""
        if run.parent_run_id is None:
            return None
        for candidate in self.exporter.runs:
            if candidate.id == run.parent_run_id:
                return candidate
        return self._pending.get(run.parent_run_id)

    # -- trees --------------------------------------------------------------------------------------

    def _label(self, run: RunTree, root: bool) -> str:
        label = run.name
        if run.run_type != "chain":
            label += f" [{run.run_type}]"
        if run.error:
            label += f"  error: {_first_line(run.error)}"
        if root and run.parent_run_id is not None:
            pending = self._pending.get(run.parent_run_id)
            label += f"  (child of {pending.name})" if pending is not None else "  (parent not recorded)"
        return label

    def _outline(self, run: RunTree, depth: int, children: Mapping[str, list[RunTree]]) -> list[str]:
        lines = ["  " * depth + self._label(run, depth == 1)]
        for child in children.get(run.id, ()):
            lines.extend(self._outline(child, depth + 1, children))
        return lines

    def _children_map(self) -> dict[str, list[RunTree]]:
        children: dict[str, list[RunTree]] = {}
        for run in sorted(self.exporter.runs, key=_order):
            if run.parent_run_id is not None:
                children.setdefault(run.parent_run_id, []).append(run)
        return children

    def outline(self, root: RunTree | None = None) -> str:
        """The recorded runs as an indented outline, one run per line (or the subtree under ``root``)."""
        children = self._children_map()
        tops = [root] if root is not None else self.roots()
        lines = [line for run in tops for line in self._outline(run, 1, children)]
        return "\n".join(lines) if lines else "  (no runs recorded)"

    def _nodes(self, run: RunTree, children: Mapping[str, list[RunTree]]) -> _Node:
        return _Node(run.name, tuple(self._nodes(child, children) for child in children.get(run.id, ())))

    def assert_tree(self, shape: Shape, *, root: RunTree | None = None) -> None:
        """Assert the recorded runs form exactly ``shape`` (see the module docs), sibling order aside.

        With ``root``, only that run and the recorded runs under it are compared (``root`` may be the
        open ``trace_parent`` run). The AssertionError shows both trees as outlines.
        """
        __tracebackhide__ = True
        expected = _shape_nodes(shape)
        children = self._children_map()
        tops = [root] if root is not None else self.roots()
        actual = tuple(self._nodes(run, children) for run in tops)
        difference = _difference(expected, actual, "at the top")
        if difference is not None:
            raise AssertionError(
                f"the recorded runs do not have the expected shape ({difference})\n"
                f"expected:\n{chr(10).join(_shape_outline(expected)) or '  (no runs)'}\n"
                f"recorded:\n{self.outline(root)}"
            )


class TraceParent:
    """A caller's run for a test to send its requests under: ``headers`` to send, ``run`` to compare to.

    The run is a root named ``"test-parent"``; it ends (and is recorded) when ``end()`` is called, which
    the ``trace_parent`` fixture does after the test.
    """

    def __init__(self, recorder: TraceRecorder | None = None, name: str = "test-parent") -> None:
        self.recorder = recorder
        self.run = RunTree(name, project_name=config.get_settings().project_name)
        self.run.sampled = True
        self.headers: dict[str, str] = self.run.to_headers()
        if recorder is not None:
            recorder.watch(self.run)

    @property
    def environ(self) -> dict[str, str]:
        """The headers as WSGI environ keys (``HTTP_LANGSMITH_TRACE``, ...), for ``environ_base``."""
        return {"HTTP_" + name.upper().replace("-", "_"): value for name, value in self.headers.items()}

    def children(self) -> list[RunTree]:
        """The recorded runs made directly under this parent, in start order."""
        if self.recorder is None:
            raise ValueError("children() needs the recorder: TraceParent(recorder, ...)")
        return self.recorder.children(self.run)

    def assert_child_of_parent(self, run: RunTree | str) -> None:
        """Assert ``run`` (a run, or the name of the only recorded run so named) continues this parent."""
        __tracebackhide__ = True
        if isinstance(run, str):
            if self.recorder is None:
                raise ValueError("finding a run by name needs the recorder: TraceParent(recorder, ...)")
            run = self.recorder.one(run)
        parent = self.run
        if (
            run.parent_run_id == parent.id
            and run.trace_id == parent.trace_id
            and run.dotted_order.startswith(parent.dotted_order + ".")
        ):
            return
        if run.parent_run_id is None:
            actual = "it is a root run"
        else:
            found = self.recorder.parent(run) if self.recorder is not None else None
            actual = f"its parent is {found.name!r} ({found.id})" if found else f"its parent is {run.parent_run_id}"
        where = f"\nrecorded runs:\n{self.recorder.outline()}" if self.recorder is not None else ""
        raise AssertionError(
            f"expected {run.name!r} ({run.id}) to be a child of {parent.name!r} ({parent.id}, trace "
            f"{parent.trace_id}); {actual}, in trace {run.trace_id}{where}"
        )

    def end(self) -> None:
        """End the run and hand it to the exporters; a second call does nothing."""
        if self.run.end_us is None:
            self.run.end()
            config.record(self.run)
