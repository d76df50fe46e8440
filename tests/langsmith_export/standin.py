"""A LangSmith stand-in: the ingestion endpoints of LangSmith's API on 127.0.0.1, with its checks.

``StandIn()`` serves on a free port in a thread (``with StandIn() as ls: ... ls.url``). It answers
``GET /info`` with a complete ``batch_ingest_config`` and takes runs the ways the SDKs send them:
``POST /runs/multipart`` (multipart/form-data parts ``post.<id>``, ``post.<id>.inputs``, ``patch.<id>``,
``patch.<id>.outputs``, ..., optionally zstd/gzip-encoded), ``POST /runs/batch`` (``{"post": [...],
"patch": [...]}``), ``POST /runs`` and ``PATCH /runs/<id>``. Runs are stored merged by id.

Like LangSmith's backend it rejects a request (422, nothing stored) holding a run whose ids are not
UUIDs, whose dotted order is malformed, whose first segment's UUID is not its trace id, whose last is
not its id, whose parent is not the segment before, or whose timestamp is earlier than its parent's
segment's. A missing ``x-api-key`` gets 401. Every rejection is kept in ``rejections``.

Faults for tests: ``fail_with = 500`` (or 429, ...) answers every ingest request with that status;
``delay_s`` makes each ingest request wait that long first.
"""

from __future__ import annotations

import email.parser
import email.policy
import gzip
import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

INFO = {
    "version": "0.10.0",
    "instance_flags": {
        "blob_storage_enabled": False,
        "dataset_examples_multipart_enabled": True,
        "examples_multipart_enabled": True,
        "zstd_compression_enabled": False,
    },
    "batch_ingest_config": {
        "use_multipart_endpoint": True,
        "scale_up_qsize_trigger": 1000,
        "scale_up_nthreads_limit": 16,
        "scale_down_nempty_trigger": 4,
        "size_limit": 100,
        "size_limit_bytes": 20971520,
    },
}
_SEGMENT = re.compile(r"^(\d{8}T\d{6})(\d{1,6})Z([0-9a-fA-F-]{36})$")
_JSON_PARTS = ("inputs", "outputs", "events", "extra", "error", "serialized")
MAX_BODY = 64 * 1024 * 1024
RUN_TYPES = {"tool", "chain", "llm", "retriever", "embedding", "prompt", "parser"}


class Rejected(ValueError):
    """A run LangSmith's backend would refuse."""


def _uuid(value: Any, what: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise Rejected(f"{what} is not a UUID: {value!r}") from None


def parse_dotted_order(order: str) -> list[tuple[datetime, str]]:
    """``[(timestamp, run id), ...]`` of a dotted order; ``Rejected`` when malformed."""
    segments = []
    for part in order.split("."):
        match = _SEGMENT.match(part)
        if match is None:
            raise Rejected(f"malformed dotted_order segment {part!r}")
        stamp, fraction, run_id = match.groups()
        when = datetime.strptime(stamp + fraction.ljust(6, "0"), "%Y%m%dT%H%M%S%f").replace(tzinfo=timezone.utc)
        segments.append((when, _uuid(run_id, "dotted_order segment id")))
    return segments


def validate(run: dict[str, Any], *, create: bool) -> None:
    """Check one run create/update as the backend does; raises ``Rejected``."""
    run_id = _uuid(run.get("id"), "id")
    order = run.get("dotted_order")
    if not isinstance(order, str) or not order:
        raise Rejected(f"run {run_id}: dotted_order is required")
    trace_id = _uuid(run.get("trace_id"), "trace_id")
    segments = parse_dotted_order(order)
    parent = run.get("parent_run_id")
    if parent is not None:
        parent = _uuid(parent, "parent_run_id")
        if len(segments) < 2:
            raise Rejected(f"run {run_id}: a child's dotted_order needs at least two segments")
        if segments[-2][1] != parent:
            raise Rejected(f"run {run_id}: parent_run_id {parent} is not the segment before ({segments[-2][1]})")
    elif len(segments) > 1:
        raise Rejected(f"run {run_id}: dotted_order has {len(segments)} segments but no parent_run_id")
    if segments[0][1] != trace_id:
        raise Rejected(f"run {run_id}: trace_id {trace_id} is not the first segment's id {segments[0][1]}")
    if segments[-1][1] != run_id:
        raise Rejected(f"run {run_id}: the last dotted_order segment names {segments[-1][1]}")
    for (earlier, _), (later, _) in itertools.pairwise(segments):
        if later < earlier:
            raise Rejected(f"run {run_id}: dotted_order has timestamp {later} earlier than parent timestamp {earlier}")
    if create:
        if not run.get("name"):
            raise Rejected(f"run {run_id}: name is required")
        if run.get("run_type") not in RUN_TYPES:
            raise Rejected(f"run {run_id}: run_type must be one of {sorted(RUN_TYPES)}; got {run.get('run_type')!r}")
        if not run.get("start_time"):
            raise Rejected(f"run {run_id}: start_time is required")


def parse_multipart(body: bytes, content_type: str) -> list[tuple[str, dict[str, Any]]]:
    """``[(op, run), ...]`` from LangSmith's multipart format (``post.<id>`` plus ``post.<id>.<field>`` parts)."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        raise Rejected("the body is not multipart/form-data")
    runs: dict[tuple[str, str], dict[str, Any]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise Rejected("a part has no name")
        op, _, rest = name.partition(".")
        if op in ("attachment", "feedback"):
            continue
        if op not in ("post", "patch"):
            raise Rejected(f"unknown part {name!r}")
        run_id, _, field = rest.partition(".")
        payload = part.get_payload(decode=True) or b""
        try:
            value = json.loads(payload)
        except ValueError:
            raise Rejected(f"part {name!r} is not JSON") from None
        run = runs.setdefault((op, run_id), {"id": run_id})
        if not field:
            if not isinstance(value, dict):
                raise Rejected(f"part {name!r} is not a JSON object")
            run.update(value)
        elif field in _JSON_PARTS:
            run[field] = value
        else:
            raise Rejected(f"unknown field part {name!r}")
    return [(op, run) for (op, _), run in runs.items()]


class StandIn:
    """The server; see the module docstring. ``runs`` maps id -> merged run; ``rejections`` lists refusals."""

    def __init__(self, *, require_api_key: bool = True) -> None:
        self.require_api_key = require_api_key
        self.fail_with: int | None = None
        self.delay_s = 0.0  # seconds each ingest request waits before its answer
        self.runs: dict[str, dict[str, Any]] = {}
        self.rejections: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []  # method, path, status, headers of every request
        self.lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None

    def __enter__(self) -> StandIn:
        self._thread = threading.Thread(target=self._server.serve_forever, name="langsmith-standin", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    # -- ingestion ----------------------------------------------------------------------------------

    def ingest(self, ops: list[tuple[str, dict[str, Any]]]) -> None:
        """Validate every run, then store them all (a request is taken whole or refused whole)."""
        for op, run in ops:
            validate(run, create=op == "post")
        with self.lock:
            for _, run in ops:
                key = str(uuid.UUID(str(run["id"])))
                merged = self.runs.setdefault(key, {})
                merged.update({k: v for k, v in run.items() if v is not None or k not in merged})
                merged["id"] = key

    # -- assertions ---------------------------------------------------------------------------------

    def ingest_requests(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.requests if r["path"].startswith("/runs")]

    def trace_runs(self, trace_id: str) -> list[dict[str, Any]]:
        with self.lock:
            found = [dict(r) for r in self.runs.values() if str(r.get("trace_id")) == trace_id]
        return sorted(found, key=lambda r: str(r["dotted_order"]))

    def by_name(self, name: str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(r) for r in self.runs.values() if r.get("name") == name]

    def tree(self, trace_id: str) -> dict[str, Any]:
        """The trace as nested dicts (``children`` sorted by dotted order); AssertionError if not one tree."""
        runs = self.trace_runs(trace_id)
        assert runs, f"no runs of trace {trace_id}"
        nodes = {r["id"]: {**r, "children": []} for r in runs}
        roots = []
        for node in nodes.values():
            parent = node.get("parent_run_id")
            if parent is None:
                roots.append(node)
            else:
                assert str(parent) in nodes, f"run {node['name']} has parent {parent}, which was not ingested"
                nodes[str(parent)]["children"].append(node)
        assert len(roots) == 1, f"trace {trace_id} has {len(roots)} roots"
        for node in nodes.values():
            node["children"].sort(key=lambda n: str(n["dotted_order"]))
        return roots[0]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
        """Poll ``predicate`` until true or ``timeout`` seconds pass (bounded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return predicate()


def names(tree: dict[str, Any]) -> list[Any]:
    """``[name, [child names...]]`` nested, for compact assertions on a ``tree``."""
    return [tree["name"], [names(child) for child in tree["children"]]]


def _decode(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj().decompress(body)
    raise Rejected(f"unsupported Content-Encoding {encoding!r}")


def _handler_for(standin: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            with standin.lock:
                standin.requests.append(
                    {"method": self.command, "path": self.path, "status": status, "headers": dict(self.headers)}
                )
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():  # node's fetch streams bodies
                raw = self._chunked()
            else:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
            return _decode(raw, self.headers.get("Content-Encoding", ""))

        def _chunked(self) -> bytes:
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024).strip():  # trailers, up to the blank line
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    raise ValueError(f"body larger than {MAX_BODY} bytes")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)  # the CRLF after each chunk

        def do_GET(self) -> None:
            if self.path.split("?")[0].rstrip("/") == "/info":
                self._reply(200, INFO)
            else:
                self._reply(404, {"detail": "Not Found"})

        def do_POST(self) -> None:
            self._ingest("POST")

        def do_PATCH(self) -> None:
            self._ingest("PATCH")

        def _ingest(self, method: str) -> None:
            path = self.path.split("?")[0].rstrip("/")
            try:
                body = self._body()  # read first: the connection stays usable whatever we answer
            except Exception as error:
                self._refuse(400, f"unreadable body: {error}", path)
                return
            if standin.delay_s:
                time.sleep(standin.delay_s)
            if standin.fail_with is not None:
                self._reply(standin.fail_with, {"detail": "injected failure"})
                return
            if standin.require_api_key and not self.headers.get("x-api-key"):
                self._refuse(401, "missing x-api-key", path)
                return
            try:
                ops = self._ops(method, path, body)
            except LookupError:
                self._reply(404, {"detail": "Not Found"})
                return
            except Rejected as error:
                self._refuse(422, str(error), path)
                return
            except ValueError as error:
                self._refuse(400, f"bad body: {error}", path)
                return
            try:
                standin.ingest(ops)
            except Rejected as error:
                self._refuse(422, str(error), path)
                return
            self._reply(202, {"message": "Runs batch ingested"})

        def _ops(self, method: str, path: str, body: bytes) -> list[tuple[str, dict[str, Any]]]:
            if method == "POST" and path == "/runs/multipart":
                return parse_multipart(body, self.headers.get("Content-Type", ""))
            if method == "POST" and path == "/runs/batch":
                batch = json.loads(body)
                return [("post", r) for r in batch.get("post") or []] + [("patch", r) for r in batch.get("patch") or []]
            if method == "POST" and path == "/runs":
                return [("post", json.loads(body))]
            if method == "PATCH" and path.startswith("/runs/"):
                return [("patch", {**json.loads(body), "id": path.rsplit("/", 1)[1]})]
            raise LookupError(path)

        def _refuse(self, status: int, reason: str, path: str) -> None:
            with standin.lock:
                standin.rejections.append({"status": status, "reason": reason, "path": path})
            self._reply(status, {"detail": reason})

    return Handler
