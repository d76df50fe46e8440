"""The viewer's JSON API under ``/api/``: the shapes ``tracing-middleware show --json`` prints, plus lists.

- ``GET /api/traces``: ``{"traces": [...], "next": cursor|null}``; filters ``q`` (run name contains),
  ``service``, ``project``, ``errors=1``, ``tag``, ``meta=key=value``, ``since``/``until`` (an age like
  ``15m``/``2h``/``1d``, an ISO date/time, or epoch microseconds), ``limit`` (1-500), ``cursor``.
- ``GET /api/traces/<id>``: the trace's runs, a JSON array exactly as ``show --json`` prints it.
- ``GET /api/traces/<id>/waterfall``: compact rows (``columns`` names them) for drawing large traces.
- ``GET /api/runs/<id>``: one run, in the same shape as an element of ``show --json``.
- ``GET /api/services``: calls between services in ``since``/``until``: count, errors, p50/p95 latency.
- ``GET /api/options``: the services and projects in the store.

Bad parameters answer 400 with ``{"error": ...}``; unknown ids 404; a store not written yet is empty.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from tracing_middleware.exporters.sqlite_schema import StoreError
from tracing_middleware.viewer.queries import ListFilter, ViewerQueries, normalize_trace_id, parse_cursor

__all__ = ["ApiError", "parse_time", "routes_for"]

_AGE = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|h|d|w)")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_TEXT_LIMIT = 1024
_NO_STORE = {"cache-control": "no-store"}


class ApiError(Exception):
    """A client error: the status and a message that names what was wrong and what is accepted."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def parse_time(name: str, text: str | None, now_us: int | None = None) -> int | None:
    """Epoch µs from an age (``15m``: that long ago), an ISO date/time, or epoch µs; None when empty."""
    if text is None or not text.strip():
        return None
    text = text.strip().lower()
    now_us = time.time_ns() // 1000 if now_us is None else now_us
    if text.isdigit() and len(text) <= 20:
        return int(text)
    match = _AGE.fullmatch(text)
    if match:
        return now_us - int(float(match.group(1)) * _UNIT[match.group(2)] * 1_000_000)
    try:
        return int(datetime.fromisoformat(text.upper()).timestamp() * 1_000_000)
    except (ValueError, OverflowError):
        raise ApiError(400, f"{name} must be an age (30s, 15m, 2h, 1d, 1w), an ISO date/time or epoch µs") from None


def _text(request: Request, name: str) -> str | None:
    value = request.query_params.get(name, "").strip()
    if len(value) > _TEXT_LIMIT:
        raise ApiError(400, f"{name} is longer than {_TEXT_LIMIT} characters")
    return value or None


def list_filter(request: Request) -> ListFilter:
    """The list's filters from the query string (``ApiError`` for a malformed one)."""
    meta = _text(request, "meta")
    key = value = None
    if meta is not None:
        key, sep, value = meta.partition("=")
        if not sep or not key.strip():
            raise ApiError(400, "meta must be key=value")
        key, value = key.strip(), value.strip()
    return ListFilter(
        text=_text(request, "q"),
        service=_text(request, "service"),
        project=_text(request, "project"),
        errors=request.query_params.get("errors", "") in ("1", "true", "on", "yes"),
        tag=_text(request, "tag"),
        meta_key=key,
        meta_value=value,
        since_us=parse_time("since", request.query_params.get("since")),
        until_us=parse_time("until", request.query_params.get("until")),
    )


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= 500:
        raise ApiError(400, "limit must be a whole number from 1 to 500")
    return int(raw)


class Api:
    """The endpoints, bound to one store path. Each request opens its own read-only connection."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _open(self) -> ViewerQueries | None:
        if not self.path.exists():
            return None  # nothing recorded yet: empty answers, and the viewer says where it looks
        try:
            return ViewerQueries(self.path)
        except StoreError as error:
            raise ApiError(503, str(error)) from None

    def _trace_id(self, request: Request) -> str:
        trace_id = normalize_trace_id(request.path_params["trace_id"])
        if trace_id is None:
            raise ApiError(404, "not a trace id")
        return trace_id

    def has_trace(self, trace_id: str) -> bool:
        """True when the store holds a run of the trace (for the page's 404)."""
        store = self._open()
        return store is not None and bool(_closing(store, lambda s: s.has_trace(trace_id)))

    def traces(self, request: Request) -> JSONResponse:
        flt, limit = list_filter(request), _limit(request)
        try:
            cursor = parse_cursor(request.query_params.get("cursor"))
        except ValueError as error:
            raise ApiError(400, str(error)) from None
        store = self._open()
        if store is None:
            return JSONResponse(
                {"traces": [], "next": None, "notice": f"no trace store at {self.path} yet"}, headers=_NO_STORE
            )
        with store:
            items, following = store.list_traces(flt, limit, cursor)
        return JSONResponse({"traces": items, "next": following}, headers=_NO_STORE)

    def trace(self, request: Request) -> JSONResponse:
        trace_id = self._trace_id(request)
        store = self._open()
        runs = [] if store is None else _closing(store, lambda s: s.trace_runs(trace_id))
        if not runs:
            raise ApiError(404, f"no trace {trace_id} in the store")
        return JSONResponse([run.to_dict() for run in runs], headers=_NO_STORE)

    def waterfall(self, request: Request) -> JSONResponse:
        trace_id = self._trace_id(request)
        store = self._open()
        found = None if store is None else _closing(store, lambda s: s.waterfall(trace_id))
        if found is None:
            raise ApiError(404, f"no trace {trace_id} in the store")
        return JSONResponse(found, headers=_NO_STORE)

    def run(self, request: Request) -> JSONResponse:
        run_id = normalize_trace_id(request.path_params["run_id"])
        store = None if run_id is None else self._open()
        found = None if store is None or run_id is None else _closing(store, lambda s: s.run(run_id))
        if found is None:
            raise ApiError(404, "no such run in the store")
        body = found.to_dict()
        body["duration_us"] = found.duration_us
        body["depth"] = found.depth
        return JSONResponse(body, headers=_NO_STORE)

    def services(self, request: Request) -> JSONResponse:
        since = parse_time("since", request.query_params.get("since"))
        until = parse_time("until", request.query_params.get("until"))
        store = self._open()
        if store is None:
            return JSONResponse({"calls": [], "truncated": False}, headers=_NO_STORE)
        return JSONResponse(_closing(store, lambda s: s.service_calls(since, until)), headers=_NO_STORE)

    def options(self, request: Request) -> JSONResponse:
        store = self._open()
        found = {"services": [], "projects": []} if store is None else _closing(store, lambda s: s.options())
        return JSONResponse({**found, "store": str(self.path)}, headers=_NO_STORE)


def _closing(store: ViewerQueries, read: Any) -> Any:
    with store:
        return read(store)


def routes_for(api: Api) -> list[tuple[str, Any]]:
    """(path, endpoint) pairs, in matching order."""
    return [
        ("/api/traces", api.traces),
        ("/api/traces/{trace_id}/waterfall", api.waterfall),
        ("/api/traces/{trace_id}", api.trace),
        ("/api/runs/{run_id}", api.run),
        ("/api/services", api.services),
        ("/api/options", api.options),
    ]
