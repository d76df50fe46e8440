"""Send finished runs to LangSmith (or a self-hosted LangSmith) through the real ``langsmith`` client.

Where: ``LangSmithExporter(api_url=..., api_key=..., project_name=...)``, else ``LANGSMITH_ENDPOINT``,
``LANGSMITH_API_KEY`` and ``LANGSMITH_PROJECT`` (read by the client the same way the LangSmith SDK
reads them). A run's own project (``tracing_context(project_name=...)``, ``configure(project_name=...)``
or the caller's ``langsmith-project`` baggage) wins; ``project_name`` names the project of runs that
name none. Or pass a ready ``langsmith.Client`` as ``client``.

Each batch goes out in one ``multipart_ingest`` call (``batch_ingest_runs`` when the server's ``/info``
says ``use_multipart_endpoint: false``). The client swallows HTTP and connection errors and only hands
them to its ``tracing_error_callback``; this exporter collects those reported during its own call and
raises ``LangSmithExportError``, so the ``BatchProcessor`` retries the batch a bounded number of times
and then counts the runs as lost (``exporter.processor.failures.count``). Values that are not JSON are
made safe (``serialize``) before the client sees them, so one odd input cannot break a batch.

While a batch is exported, what the client (and urllib3 under it) logs about it on that thread is
folded into the ``LangSmithExportError`` instead of printed, so a failing endpoint or a missing API
key costs at most one warning line a minute (``FailureLog``), never a traceback per batch. Other uses
of the langsmith client in the process log as usual.

The client's own requests are never traced: the batch processor's worker thread suppresses tracing,
and the ingestion URL is registered with ``tracing_middleware.transports.exclude_urls``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

try:
    from langsmith import Client
    from urllib3.util.retry import Retry
except ImportError:  # pragma: no cover - exercised only without the extra
    raise ImportError("the LangSmith exporter needs langsmith: pip install 'tracing-middleware[langsmith]'") from None

from tracing_middleware.core.config import get_settings
from tracing_middleware.core.pipeline import FailureLog
from tracing_middleware.core.printable import get_logger
from tracing_middleware.core.run_tree import RunTree
from tracing_middleware.exporters.log_fold import LogFold
from tracing_middleware.exporters.serialize import safe_text, to_jsonable

if TYPE_CHECKING:
    from tracing_middleware.core.batch import BatchProcessor

__all__ = ["LangSmithExporter", "LangSmithExportError"]

logger = get_logger("tracing_middleware.export")
_NAME_LIMIT = 1024
_TIMEOUT_MS = (5_000, 30_000)  # connect, read: a hung backend must not hold the worker for minutes


_fold = LogFold("langsmith.client", "langsmith.utils", "langsmith._internal._operations", "urllib3.connectionpool")


class LangSmithExportError(RuntimeError):
    """The LangSmith client reported that a batch (or part of it) was not accepted."""


class LangSmithExporter:
    """Exports runs to the LangSmith API (see the module docstring for configuration and guarantees).

    ``multipart``: ``True`` for ``POST /runs/multipart``, ``False`` for ``POST /runs/batch``; ``None``
    (default) follows the server's ``/info``. ``processor`` is the ``BatchProcessor`` made by
    ``make_processor``; its ``failures.count`` counts runs lost after the retries.
    """

    def __init__(
        self,
        api_url: str | None = None,
        api_key: str | None = None,
        project_name: str | None = None,
        client: Client | None = None,
        *,
        multipart: bool | None = None,
    ) -> None:
        for name, value in (("api_url", api_url), ("api_key", api_key), ("project_name", project_name)):
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{name} must be a str or None; got {type(value).__name__}")
        if client is not None and not isinstance(client, Client):
            raise TypeError(f"client must be a langsmith.Client or None; got {type(client).__name__}")
        if client is not None and (api_url is not None or api_key is not None):
            raise ValueError("pass either client or api_url/api_key, not both")
        if multipart is not None and not isinstance(multipart, bool):
            raise TypeError(f"multipart must be True, False or None; got {multipart!r}")
        self.api_url = api_url
        self.api_key = api_key
        self.project_name = project_name
        self.multipart = multipart
        self.processor: BatchProcessor | None = None
        self.client_errors = 0  # errors the client reported, one per failed request
        self.skipped = FailureLog("langsmith exporter: malformed runs skipped")
        self._local = threading.local()
        self._lock = threading.Lock()
        self._owns_client = client is None
        self._client: Client | None = None  # made on first export: constructing does no I/O
        if client is not None:
            self._adopt(client)
        _fold.attach()

    # -- client -------------------------------------------------------------------------------------

    @property
    def client(self) -> Client:
        """The ``langsmith.Client`` this exporter sends through (made on first use)."""
        client = self._client
        if client is None:
            with self._lock:
                client = self._client
                if client is None:
                    client = Client(
                        api_url=self.api_url,
                        api_key=self.api_key,
                        auto_batch_tracing=False,  # we batch; no second queue and thread in the client
                        tracing_sampling_rate=1.0,  # runs reaching us were already sampled by trace id
                        retry_config=Retry(total=0, raise_on_status=False),  # the processor retries
                        timeout_ms=_TIMEOUT_MS,
                        tracing_error_callback=self._on_client_error,
                    )
                    self._exclude(client)
                    self._client = client
        return client

    def _adopt(self, client: Client) -> None:
        """Use a caller's client: chain its error callback so our calls' errors are seen too."""
        previous: Callable[[Exception], None] | None = getattr(client, "_tracing_error_callback", None)

        def chained(error: Exception) -> None:
            self._on_client_error(error)
            if previous is not None:
                previous(error)

        if hasattr(client, "_tracing_error_callback"):
            client._tracing_error_callback = chained
        else:  # a client without the hook: failures can only show in its own log
            logger.warning("this langsmith client has no tracing_error_callback: export failures will not be counted")
        self._exclude(client)
        self._client = client

    @staticmethod
    def _exclude(client: Client) -> None:
        try:
            from tracing_middleware.core.destinations import exclude_urls

            exclude_urls(*{str(url) for url in [client.api_url, *getattr(client, "_write_api_urls", {})]})
        except Exception as error:  # no transports module, or an URL it cannot take: tracing just stays on
            logger.debug("could not exclude the LangSmith endpoint from outbound tracing: %s", error)

    def _on_client_error(self, error: Exception) -> None:
        # The client calls back on the thread that made the request: our export call's, or (for a
        # caller's client) its own background thread, whose errors are none of ours.
        errors: list[Exception] | None = getattr(self._local, "errors", None)
        if errors is not None:
            errors.append(error)

    # -- exporter protocol --------------------------------------------------------------------------

    def make_processor(self) -> BatchProcessor:
        """Requests happen on a background thread, in batches."""
        from tracing_middleware.core.batch import BatchProcessor

        self.processor = BatchProcessor(self)
        return self.processor

    def export(self, runs: Sequence[RunTree]) -> None:
        """Send ``runs`` in one ingest call; ``LangSmithExportError`` if the client reports a failure."""
        payload = self._payload(runs)
        if not payload:
            return
        client = self.client
        errors: list[Exception] = []
        self._local.errors = errors
        try:
            with _fold.folding():
                if self._use_multipart(client):
                    client.multipart_ingest(create=payload)
                else:
                    client.batch_ingest_runs(create=payload)
        finally:
            self._local.errors = None
        if errors:
            self.client_errors += len(errors)
            raise LangSmithExportError(
                f"LangSmith at {client.api_url} did not take {len(payload)} runs: {errors[-1]}"
            ) from errors[-1]

    def shutdown(self) -> None:
        """Close the HTTP session of a client this exporter made (a later export makes a new one)."""
        if not self._owns_client:
            return  # a caller's client is the caller's to close
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.session.close()

    # -- conversion ---------------------------------------------------------------------------------

    def _use_multipart(self, client: Client) -> bool:
        if self.multipart is not None:
            return self.multipart
        config = client.info.batch_ingest_config or {}  # cached by the client after the first call
        return bool(config.get("use_multipart_endpoint", True))

    def _payload(self, runs: Sequence[RunTree]) -> list[dict[str, Any]]:
        default_project = self.project_name or get_settings().project_name
        payload = []
        for run in runs:
            try:
                payload.append(run_to_langsmith(run, default_project))
            except Exception as error:  # one damaged run must not cost the batch its other runs
                self.skipped.record(error)
        return payload


def run_to_langsmith(run: RunTree, default_project: str) -> dict[str, Any]:
    """``run`` as a run-create dict of LangSmith's ingest API (times as datetimes, values JSON-safe)."""
    if not (type(run.id) is str and type(run.trace_id) is str and type(run.start_us) is int):
        raise TypeError(f"run {run.id!r} has no str id/trace_id or no int start_us")
    return {
        "id": run.id,
        "trace_id": run.trace_id,
        "dotted_order": run.dotted_order,
        "parent_run_id": run.parent_run_id,
        "name": safe_text(run.name, limit=_NAME_LIMIT) or "run",
        "run_type": run.run_type,
        "start_time": run.start_time,
        "end_time": run.end_time if type(run.end_us) is int else None,
        "inputs": to_jsonable(run.inputs) if run.inputs is not None else {},
        "outputs": to_jsonable(run.outputs) if run.outputs is not None else None,
        "error": safe_text(run.error) if run.error is not None else None,
        "tags": [safe_text(tag, limit=_NAME_LIMIT) for tag in run.tags],
        "extra": {"metadata": to_jsonable(run.metadata)},
        "events": to_jsonable(run.events),
        "session_name": safe_text(run.project_name or default_project, limit=_NAME_LIMIT),
    }
