"""``http.source``: records from an HTTP API, page by page, to XCom (small) or streamed to a file (large).

Why it looks like this:

* Pages are fetched one at a time and, with ``output_path``, written to the file as they arrive, so memory is
  bounded by one page (``response_format="ndjson"`` goes further: records are parsed while the body streams).
  XCom then carries only a :class:`~airflow_provider_flow.models.FileReference` (path, records, bytes, sha256,
  pages). The file is written atomically under the file runtime's confinement (``fileio``/``formats``): a failed
  attempt leaves no partial file.
* Every request goes through :class:`~airflow_provider_flow.runtimes.httpio.HttpClient`: in-task retries with
  backoff, ``Retry-After``, per-phase timeouts plus an overall deadline, typed errors, redaction.
* Next-page URLs from ``Link`` headers or bodies must stay on the origin of the first request: the connection's
  credentials are sent with every page, and a hostile or compromised API must not be able to redirect them.
* Without ``records_path`` a JSON list body is the records and an object body is one record. The node's input is
  not used (a source starts a flow).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import Any

import httpx
import jmespath
import jmespath.exceptions

from airflow_provider_flow.errors import FlowError, FlowValidationError
from airflow_provider_flow.models import (
    CursorPagination,
    FileReference,
    HttpRetryConfig,
    HttpSourceConfig,
    HttpTimeoutConfig,
    LinkPagination,
    NextUrlPagination,
    OffsetPagination,
    PagePagination,
)
from airflow_provider_flow.runtimes.httpio import (
    DEFAULT_MAX_RESPONSE_BYTES,
    HttpClient,
    HttpSettings,
    InvalidResponseError,
    ResponseTooLargeError,
    RetrySettings,
    TimeoutSettings,
)
from airflow_provider_flow.runtimes.progress import ProgressReporter
from airflow_provider_flow.runtimes.state import ExecutionState

#: Used when output_path is set without fs_conn_id or base_path (the file runtime's default connection).
DEFAULT_FS_CONN_ID = "fs_default"


def effective_timeout(settings: HttpSettings, override: float | HttpTimeoutConfig | None) -> TimeoutSettings:
    """The connection's timeouts with a node's override applied (a number sets every phase, total = 10x)."""
    if override is None:
        return settings.timeout
    if isinstance(override, (int, float)):
        return TimeoutSettings.uniform(float(override))
    values = {k: v for k, v in override.model_dump().items() if v is not None}
    return replace(settings.timeout, **values)


def effective_retry(settings: HttpSettings, override: HttpRetryConfig | None) -> RetrySettings:
    if override is None:
        return settings.retry
    return replace(settings.retry, **{k: v for k, v in override.model_dump().items() if v is not None})


def compile_path(expression: str, field: str) -> Any:
    try:
        return jmespath.compile(expression)
    except jmespath.exceptions.JMESPathError as exc:
        raise FlowValidationError(
            f"invalid JMESPath expression {expression!r}: {exc}; use a dotted path like 'data.items'",
            field=field,
            value=expression,
        ) from None


def _origin(url: str) -> tuple[str, str, int | None]:
    parsed = httpx.URL(url)
    return parsed.scheme, parsed.host, parsed.port


class HttpSourceRuntime:
    """Fetch records over HTTP with pagination; see the module docstring."""

    name = "http.source"
    config_model = HttpSourceConfig

    def execute(self, config: HttpSourceConfig, input: Any, state: ExecutionState) -> list[Any] | FileReference:
        if config.output_path is None and (config.fs_conn_id or config.base_path):
            # checked here, not in the model: output_path may be a template the parse-time check skips
            raise FlowValidationError(
                "fs_conn_id/base_path only apply with output_path; set output_path or drop them",
                field="output_path",
                value=None,
            )
        records_expr = compile_path(config.records_path, "records_path") if config.records_path else None
        self._check_pagination(config)
        settings = state.settings.http_settings(config.http_conn_id)
        progress = ProgressReporter(state.log, f"http.source {config.method} {settings.safe_url(config.endpoint)}")
        with HttpClient(
            settings,
            state=state,
            retry=effective_retry(settings, config.retry),
            timeout=effective_timeout(settings, config.timeout),
        ) as client:
            if config.output_path:
                return self._to_file(client, config, state, records_expr, progress)
            return self._to_xcom(client, config, state, records_expr, progress)

    # -- outputs --------------------------------------------------------------------------------------------

    def _to_xcom(
        self,
        client: HttpClient,
        config: HttpSourceConfig,
        state: ExecutionState,
        records_expr: Any,
        progress: ProgressReporter,
    ) -> list[Any]:
        limit = config.max_response_bytes or DEFAULT_MAX_RESPONSE_BYTES
        records: list[Any] = []

        def take(page: Iterable[Any]) -> None:
            before = len(records)
            records.extend(page)
            progress.update(records=len(records) - before)
            # Everything lands in the metadata DB: max_response_bytes bounds the total here, not just one page.
            if progress.bytes > limit:
                raise ResponseTooLargeError(
                    f"results reached {progress.bytes} bytes, over max_response_bytes={limit} for an XCom result; "
                    "set output_path to stream them to a file",
                    details={"max_response_bytes": limit, "pages": progress.pages},
                )

        self._fetch_all(client, config, state, records_expr, progress, take)
        progress.finish()
        return records

    def _to_file(
        self,
        client: HttpClient,
        config: HttpSourceConfig,
        state: ExecutionState,
        records_expr: Any,
        progress: ProgressReporter,
    ) -> FileReference:
        from airflow_provider_flow.runtimes.fileio import resolve_base
        from airflow_provider_flow.runtimes.formats import RecordWriter

        fs_conn_id = config.fs_conn_id or (None if config.base_path else DEFAULT_FS_CONN_ID)
        base = resolve_base(state, fs_conn_id=fs_conn_id, base_path=config.base_path)
        assert config.output_path is not None
        with RecordWriter(base, config.output_path, format=config.output_format, mode=config.write_mode) as writer:

            def take(page: Iterable[Any]) -> None:
                progress.update(records=writer.write_many(page))

            self._fetch_all(client, config, state, records_expr, progress, take)
        reference = writer.reference(fs_conn_id=fs_conn_id, base_path=config.base_path)
        progress.finish()
        state.log.info(
            "http.source wrote %d records (%d bytes, %d pages) to %s",
            reference.records,
            reference.bytes,
            progress.pages,
            reference.path,
        )
        return reference.model_copy(update={"pages": progress.pages})

    # -- pagination -----------------------------------------------------------------------------------------

    @staticmethod
    def _check_pagination(config: HttpSourceConfig) -> None:
        if config.response_format == "ndjson" and isinstance(config.pagination, (CursorPagination, NextUrlPagination)):
            raise FlowValidationError(
                f"pagination type {config.pagination.type!r} reads the JSON body, which an NDJSON response does not "
                "have; use 'link', 'page' or 'offset' pagination, or response_format='json'",
                field="pagination.type",
                value=config.pagination.type,
            )

    def _fetch_all(
        self,
        client: HttpClient,
        config: HttpSourceConfig,
        state: ExecutionState,
        records_expr: Any,
        progress: ProgressReporter,
        take: Callable[[Iterable[Any]], None],
    ) -> None:
        pagination = config.pagination
        first_url = client.url_for(config.endpoint)
        origin = _origin(first_url)
        url: str = first_url
        params: dict[str, Any] | None = dict(config.params or {})
        if isinstance(pagination, PagePagination):
            assert params is not None
            params[pagination.page_param] = pagination.start_page
            if pagination.page_size and pagination.page_size_param:
                params[pagination.page_size_param] = pagination.page_size
        elif isinstance(pagination, OffsetPagination):
            assert params is not None
            params[pagination.offset_param] = pagination.start_offset
            params[pagination.limit_param] = pagination.limit

        state.log.info(
            "http.source: %s %s (pagination: %s)",
            config.method,
            client.settings.safe_url(first_url),
            pagination.type if pagination else "none",
        )
        pages = 0
        while True:
            state.check_deadline("http.source pagination")
            count, next_url, next_params = self._fetch_page(client, config, url, params, records_expr, progress, take)
            pages += 1
            progress.update(pages=1)

            # Where is the next page?
            if isinstance(pagination, (LinkPagination, CursorPagination, NextUrlPagination)):
                nxt_url, nxt_params = next_url, next_params
            elif isinstance(pagination, PagePagination):
                short = pagination.page_size is not None and count < pagination.page_size
                nxt_url, nxt_params = (None, None) if count == 0 or short else (url, dict(params or {}))
                if nxt_params is not None:
                    nxt_params[pagination.page_param] = int(nxt_params[pagination.page_param]) + 1
            elif isinstance(pagination, OffsetPagination):
                done = count < pagination.limit
                nxt_url, nxt_params = (None, None) if done else (url, dict(params or {}))
                if nxt_params is not None:
                    nxt_params[pagination.offset_param] = int(nxt_params[pagination.offset_param]) + count
            else:
                nxt_url, nxt_params = None, None

            if nxt_url is None:
                return
            if (nxt_url, nxt_params or None) == (url, params or None):
                # The API points back at the page just read (an echoed cursor or a self link): the same request
                # returns the same page, so following it would loop forever or duplicate records.
                state.log.warning(
                    "http.source: the next page is the page just fetched (%s); stopping after %d pages",
                    client.settings.safe_url(str(httpx.URL(nxt_url, params=nxt_params))),
                    pages,
                )
                return
            if config.max_pages is not None and pages >= config.max_pages:
                message = (
                    f"stopped after max_pages={config.max_pages} pages ({progress.records} records) although the API "
                    "has more; raise max_pages to fetch everything"
                )
                if config.on_max_pages == "fail":
                    raise FlowError(message, details={"max_pages": config.max_pages}, retryable=False)
                state.log.warning("http.source %s", message)
                return
            if _origin(nxt_url) != origin:
                raise InvalidResponseError(
                    f"the next-page URL {client.settings.safe_url(nxt_url)!r} points to another origin than "
                    f"{client.settings.safe_url(first_url)!r}; refusing to send the connection's credentials there",
                    details={"next_url": client.settings.safe_url(nxt_url)},
                )
            url, params = nxt_url, nxt_params

    def _fetch_page(
        self,
        client: HttpClient,
        config: HttpSourceConfig,
        url: str,
        params: dict[str, Any] | None,
        records_expr: Any,
        progress: ProgressReporter,
        take: Callable[[Iterable[Any]], None],
    ) -> tuple[int, str | None, dict[str, Any] | None]:
        """Fetch one page, hand its records to ``take``; return (records, next URL, next params)."""
        request: dict[str, Any] = {
            "params": params or None,
            "headers": config.headers,
            "json": config.json_body,
            "max_response_bytes": config.max_response_bytes or DEFAULT_MAX_RESPONSE_BYTES,
        }
        if isinstance(config.body, str):
            request["content"] = config.body
        elif isinstance(config.body, dict):
            request["data"] = config.body
        if config.response_format == "ndjson":
            return self._ndjson_page(client, config, url, request, progress, take)

        response = client.request(config.method, url, **request)
        progress.update(bytes=len(response.content))
        body = response.json()
        records = self._extract(body, records_expr, config, client.settings.safe_url(url))
        take(records)
        pagination = config.pagination
        next_url: str | None = None
        next_params: dict[str, Any] | None = None
        if isinstance(pagination, LinkPagination):
            next_url = response.links.get("next")
        elif isinstance(pagination, CursorPagination):
            cursor = compile_path(pagination.cursor_path, "pagination.cursor_path").search(body)
            if cursor not in (None, ""):
                next_url = url
                next_params = {**(params or {}), pagination.cursor_param: cursor}
        elif isinstance(pagination, NextUrlPagination):
            found = compile_path(pagination.next_url_path, "pagination.next_url_path").search(body)
            if found:
                next_url = str(httpx.URL(response.url).join(str(found)))
        return len(records), next_url, next_params

    def _ndjson_page(
        self,
        client: HttpClient,
        config: HttpSourceConfig,
        url: str,
        request: dict[str, Any],
        progress: ProgressReporter,
        take: Callable[[Iterable[Any]], None],
    ) -> tuple[int, str | None, dict[str, Any] | None]:
        """Stream one NDJSON response, handing records on while it downloads (memory: one line)."""
        count = 0
        with client.stream(config.method, url, **request) as response:

            def records() -> Iterator[Any]:
                nonlocal count
                seen = 0
                for number, line in enumerate(response.iter_lines(), start=1):
                    if not line.strip():
                        continue
                    try:
                        record = json.loads(line)
                    except ValueError as exc:
                        where = client.settings.safe_url(url)
                        raise InvalidResponseError(
                            f"line {number} of the NDJSON response from {where} is not JSON ({exc})",
                            details={"line": number},
                        ) from None
                    count += 1
                    progress.update(bytes=response.bytes_read - seen)
                    seen = response.bytes_read
                    yield record

            take(records())
            next_url = response.links.get("next") if isinstance(config.pagination, LinkPagination) else None
        return count, next_url, None

    @staticmethod
    def _extract(body: Any, records_expr: Any, config: HttpSourceConfig, safe_url: str) -> list[Any]:
        if records_expr is None:
            return body if isinstance(body, list) else [body]
        found = records_expr.search(body)
        if found is None:
            keys = sorted(body) if isinstance(body, dict) else type(body).__name__
            raise InvalidResponseError(
                f"records_path {config.records_path!r} found nothing in the response from {safe_url} "
                f"(top-level keys: {keys}); fix records_path",
                details={"records_path": config.records_path},
            )
        return found if isinstance(found, list) else [found]
