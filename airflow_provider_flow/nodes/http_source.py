"""``http.source``: records from an HTTP API, page by page, to XCom (small) or streamed to a file (large).

Why it looks like this:

* Pages are fetched one at a time and, with ``output_path``, written to the file as they arrive, so memory is
  bounded by one page (``response_format="ndjson"`` goes further: records are parsed while the body streams).
  XCom then carries only a :class:`~airflow_provider_flow.records.reference.FileReference` (path, records,
  bytes, sha256, pages). The file is written atomically under the node's confined storage
  (``records/output.py``): a failed attempt leaves no partial file. With ``base_uri`` (+ ``conn_id``) the file is
  an object: a multipart upload of ``part_size`` parts, completed only after the last page, aborted on failure;
  the reference then names ``base_uri``/``conn_id`` and no worker's folder.
* Every request goes through :class:`~airflow_provider_flow.http.client.HttpClient`: in-task retries with
  backoff, ``Retry-After``, per-phase timeouts plus an overall deadline, typed errors, redaction.
* Next-page URLs from ``Link`` headers or bodies must stay on the origin of the first request: the connection's
  credentials are sent with every page, and a hostile or compromised API must not be able to redirect them.
* Pagination that goes in a circle (a request or a page seen before) fails with ``PaginationLoopError`` instead of
  writing duplicates until a timeout, and ``max_pages`` has a finite default (``http/pagination.py`` explains the
  rules). Each page's records are hashed for that as they pass (one digest per page is kept, not the records).
* Without ``records_path`` a JSON list body is the records and an object body is one record. The node's input is
  not used (a source starts a flow).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from functools import partial
from typing import Any, Literal

import httpx
from pydantic import Field, field_validator, model_validator

from airflow_provider_flow.core.config import ConfigModel
from airflow_provider_flow.core.jsontext import loads_json_exact
from airflow_provider_flow.core.progress import ProgressReporter
from airflow_provider_flow.core.runtime import RuntimeResult
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.errors import (
    FlowError,
    FlowValidationError,
    InvalidResponseError,
    NestingTooDeepError,
    ResponseTooLargeError,
)
from airflow_provider_flow.expressions import MAX_RESULT_SIZE, Expression, JmesPath, compile_expression
from airflow_provider_flow.http.client import DEFAULT_MAX_RESPONSE_BYTES, HttpClient
from airflow_provider_flow.http.pagination import (
    DEFAULT_MAX_PAGES,
    HttpPagination,
    LoopGuard,
    PageDigest,
    Paginator,
    request_url,
)
from airflow_provider_flow.http.settings import (
    HTTP,
    SENSITIVE_HEADERS_HELP,
    HttpRetryConfig,
    HttpTimeoutConfig,
    TimeoutSeconds,
)
from airflow_provider_flow.incremental import WATERMARK_XCOM_KEY, IncrementalConfig, WatermarkTracker
from airflow_provider_flow.records.codecs import fast_json_lines
from airflow_provider_flow.records.output import OriginalLines, emit_records
from airflow_provider_flow.records.reference import FileReference
from airflow_provider_flow.records.resume import ResumePoint, SourceCheckpoints
from airflow_provider_flow.storage.base import (
    DEFAULT_FS_CONN_ID,
    OBJECT_BASE_URI_HELP,
    OBJECT_CONN_ID_HELP,
    PART_SIZE_HELP,
    configured_storage,
    no_credentials_in_uri,
    one_kind_of_base,
)
from airflow_provider_flow.storage.object_store import MAX_PART_SIZE, MIN_PART_SIZE

HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]

#: What one page yields: its records, then (record count, next URL, next query parameters, digest of the records)
#: as the return value.
PageRecords = Generator[Any, None, tuple[int, str | None, dict[str, Any] | None, bytes]]


class HttpSourceConfig(ConfigModel):
    """``http.source``: fetch records from an HTTP API, page by page, to XCom or streamed to a file."""

    endpoint: str = Field(description="Path joined to the connection's base URL, or an absolute URL.")
    http_conn_id: str = "http_default"
    method: HttpMethod = "GET"
    params: dict[str, Any] | None = Field(None, description="Query parameters.")
    headers: dict[str, str] | None = None
    sensitive_headers: list[str] | None = Field(None, description=SENSITIVE_HEADERS_HELP)
    json_body: Any = Field(None, alias="json", description="JSON request body.")
    body: str | dict[str, Any] | None = Field(None, description="Raw (str) or form-encoded (dict) request body.")
    timeout: TimeoutSeconds | HttpTimeoutConfig | None = Field(
        None, description="Seconds for every phase (total = 10x), or per phase; default: the connection's."
    )
    retry: HttpRetryConfig | None = None
    records_path: JmesPath | None = Field(
        None, description="JMESPath/dotted path to the records in a JSON body; default: the body if it is a list."
    )
    response_format: Literal["json", "ndjson"] = Field(
        "json", description="'ndjson' parses the body line by line while it streams (flat memory on one response)."
    )
    pagination: HttpPagination | None = None
    max_pages: int = Field(
        DEFAULT_MAX_PAGES,
        ge=1,
        le=100_000_000,
        description="Follow at most this many pages (finite by default: 10,000).",
    )
    on_max_pages: Literal["stop", "fail"] = Field(
        "stop", description="When more pages remain after max_pages: stop with a warning, or fail."
    )
    output_path: str | None = Field(None, description="Stream records to this file (under the base) instead of XCom.")
    fs_conn_id: str | None = Field(
        DEFAULT_FS_CONN_ID, description="An 'fs' connection whose extra 'path' is the base of output_path."
    )
    base_path: str | None = Field(None, description="Absolute base directory of output_path; wins over fs_conn_id.")
    base_uri: str | None = Field(None, description=OBJECT_BASE_URI_HELP)
    conn_id: str | None = Field(None, description=OBJECT_CONN_ID_HELP)
    part_size: int | None = Field(None, ge=MIN_PART_SIZE, le=MAX_PART_SIZE, description=PART_SIZE_HELP)
    output_format: Literal["ndjson", "json", "csv"] = "ndjson"
    write_mode: Literal["overwrite", "error_if_exists"] = "overwrite"
    max_response_bytes: int | None = Field(
        None, ge=1, le=2**40, description="Fail when one response body exceeds this many bytes (default 64 MiB)."
    )

    incremental: IncrementalConfig | None = Field(
        None, description="Fetch only what changed since the last committed watermark (README: Incremental loading)."
    )

    _one_base = model_validator(mode="before")(one_kind_of_base)
    _no_secret = field_validator("base_uri")(no_credentials_in_uri)

    @model_validator(mode="after")
    def _check_combinations(self) -> HttpSourceConfig:
        if self.json_body is not None and self.body is not None:
            raise ValueError("give either 'json' or 'body' as the request body, not both")
        return self


def _digest_page(records: list[Any]) -> tuple[bytes, bytes | None]:
    """A page's digest and its records' NDJSON text: each record is encoded once, for the digest and, when the
    output is an NDJSON file, as its line there. A page with a record only the stdlib encoder can write (an
    integer beyond 64 bits, NaN, ...) is digested with ``marshal`` instead (no text: the writer encodes them)."""
    digest = PageDigest()
    lines = fast_json_lines(records)
    if lines is None:
        digest.add_record(records)
        return digest.digest(), None
    text = b"\n".join(lines)
    digest.add_line(text)
    return digest.digest(), text + b"\n" if lines else b""


def _origin(url: str) -> tuple[str, str, int | None]:
    parsed = httpx.URL(url)
    return parsed.scheme, parsed.host, parsed.port


class HttpSourceRuntime:
    """Fetch records over HTTP with pagination; see the module docstring."""

    name = "http.source"
    config_model = HttpSourceConfig

    def execute(
        self, config: HttpSourceConfig, input: Any, state: ExecutionState
    ) -> list[Any] | FileReference | RuntimeResult:
        if config.incremental is None:
            return self._fetch(config, state, None)
        # incremental: ask for what changed since the watermark; the candidate travels next to the output
        tracker = WatermarkTracker(config.incremental, state.committed_watermark, state.log)
        tracker.announce()
        config = config.model_copy(update={"params": tracker.request_params(config.params)})
        output = self._fetch(config, state, tracker)
        return RuntimeResult(output, extra_xcom={WATERMARK_XCOM_KEY: tracker.outcome()})

    def _fetch(
        self, config: HttpSourceConfig, state: ExecutionState, tracker: WatermarkTracker | None
    ) -> list[Any] | FileReference:
        if config.output_path is None and (
            config.base_path or config.base_uri or config.fs_conn_id not in (None, DEFAULT_FS_CONN_ID)
        ):
            # checked here, not in the model: output_path may be a template the parse-time check skips
            raise FlowValidationError(
                "fs_conn_id/base_path/base_uri only apply with output_path; set output_path or drop them",
                field="output_path",
                value=None,
            )
        paginator = Paginator(config.pagination)
        if config.response_format == "ndjson" and paginator.reads_body:
            assert config.pagination is not None
            raise FlowValidationError(
                f"pagination type {config.pagination.type!r} reads the JSON body, which an NDJSON response does not "
                "have; use 'link', 'page' or 'offset' pagination, or response_format='json'",
                field="pagination.type",
                value=config.pagination.type,
            )
        records_expr = compile_expression(config.records_path, field="records_path") if config.records_path else None
        settings = state.settings.get(HTTP, config.http_conn_id).with_overrides(
            timeout=config.timeout,
            retry=config.retry,
            headers=config.headers,
            sensitive_headers=config.sensitive_headers,
        )
        storage = None
        if config.output_path is not None:
            storage = configured_storage(state, config)
        label = f"http.source {config.method} {settings.safe_url(settings.url_for(config.endpoint))}"
        progress = ProgressReporter(state.log, label)
        # To an NDJSON file, records arrive with their lines: an NDJSON response's validated lines as they came, a
        # JSON page's records as encoded once for the page digest (the writer never encodes them again).
        lines = OriginalLines() if config.output_path is not None else None
        with HttpClient(settings, state=state) as client:
            checkpoints = None
            if storage is not None:  # resumable retries (records/resume.py); XCom results are fetched again
                checkpoints = SourceCheckpoints.open(
                    state,
                    storage,
                    config,
                    first_url=client.url_for(config.endpoint),
                    own_params=config.params,
                    safe_url=client.settings.safe_url,
                )
            if checkpoints is not None:
                fetch = partial(self._all_pages, client, config, paginator, state, records_expr, progress, lines=lines)
                checkpoints.stage.original_lines = lines  # staged pages take the lines as they are, too

                def pages_from(**kwargs: Any) -> Iterator[Any]:
                    # a resumed try observes only the pages it fetches: the candidate can only come out lower
                    # (the next run re-reads more), never skip a record
                    records = fetch(**kwargs)
                    return tracker.observe(records) if tracker is not None else records

                return self._resumable(config, state, progress, checkpoints, pages_from)
            records = self._all_pages(client, config, paginator, state, records_expr, progress, lines=lines)
            if tracker is not None:
                records = tracker.observe(records)
            result = emit_records(
                records,
                progress,
                storage=storage,
                output_path=config.output_path,
                format=config.output_format,
                mode=config.write_mode,
                original_lines=lines,
            )
        if isinstance(result, list):
            return result
        return result.model_copy(update={"pages": progress.pages})

    @staticmethod
    def _resumable(
        config: HttpSourceConfig,
        state: ExecutionState,
        progress: ProgressReporter,
        checkpoints: SourceCheckpoints,
        pages_from: Callable[..., Iterator[Any]],
    ) -> FileReference:
        """Stage each page (after those an earlier try staged), then publish the output from the stage, once.

        ``pages_from(start=..., on_page=...)`` is :meth:`_all_pages` with this run's arguments bound.
        """
        start = checkpoints.resume_point(state)
        pages = checkpoints.stage_all(pages_from(start=start, on_page=checkpoints.page_done), progress)
        assert config.output_path is not None  # checkpoints exist only with output_path
        published = checkpoints.publish(
            pages, progress, output_path=config.output_path, format=config.output_format, mode=config.write_mode
        )
        checkpoints.finished()
        return published.model_copy(update={"pages": pages})

    def _all_pages(
        self,
        client: HttpClient,
        config: HttpSourceConfig,
        paginator: Paginator,
        state: ExecutionState,
        records_expr: Expression | None,
        progress: ProgressReporter,
        *,
        start: ResumePoint | None = None,
        on_page: Callable[[int, str | None, dict[str, Any] | None], None] | None = None,
        lines: OriginalLines | None = None,
    ) -> Iterator[Any]:
        """Every record of every page, fetched one page at a time as the consumer asks for more.

        ``start``: continue after the pages an earlier try finished; ``on_page(pages, next_url, next_params)`` is
        called once each page's records are all handed on, before the next request (checkpoints, records/resume.py).
        """
        first_url = client.url_for(config.endpoint)
        origin = _origin(first_url)
        url: str = first_url
        params: dict[str, Any] | None = paginator.first_params(config.params)
        if start is not None:
            url, params = start.url, start.params
        # Everything inline lands in the metadata DB: max_response_bytes bounds the total there, not just one page.
        inline_limit = None if config.output_path else config.max_response_bytes or DEFAULT_MAX_RESPONSE_BYTES
        state.log.info(
            "http.source: %s %s (pagination: %s)",
            config.method,
            client.settings.safe_url(first_url),
            config.pagination.type if config.pagination else "none",
        )
        pages = 0 if start is None else start.pages
        loops = LoopGuard(client.settings.safe_url)
        loops.request(url, params, page=pages + 1)
        while True:
            state.check_deadline("http.source pagination")
            if config.response_format == "ndjson":
                page = self._ndjson_page(client, config, paginator, url, params, progress, lines=lines)
            else:
                page = self._json_page(client, config, paginator, url, params, records_expr, progress, lines=lines)
            count, nxt_url, nxt_params, digest = yield from page
            loops.page(digest, page=pages + 1, records=count, url=request_url(url, params))
            if inline_limit is not None and progress.bytes > inline_limit:
                raise ResponseTooLargeError(
                    f"results reached {progress.bytes} bytes, over max_response_bytes={inline_limit} for an XCom "
                    "result; set output_path to stream them to a file",
                    details={"max_response_bytes": inline_limit, "pages": progress.pages},
                )
            pages += 1
            progress.update(pages=1)
            if on_page is not None:
                on_page(pages, nxt_url, nxt_params)

            if nxt_url is None:
                return
            if (nxt_url, nxt_params or None) == (url, params or None):
                # The API points back at the page just read (an echoed cursor or a self link): the same request
                # returns the same page, so following it would loop forever or duplicate records.
                state.log.warning(
                    "http.source: the next page is the page just fetched (%s); stopping after %d pages",
                    client.settings.safe_url(request_url(nxt_url, nxt_params)),
                    pages,
                )
                return
            if pages >= config.max_pages:
                default = " (the default)" if config.max_pages == DEFAULT_MAX_PAGES else ""
                message = (
                    f"stopped after max_pages={config.max_pages}{default} pages ({progress.records} records) "
                    "although the API has more (rule: max_pages); raise max_pages to fetch everything"
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
            loops.request(nxt_url, nxt_params, page=pages + 1)
            url, params = nxt_url, nxt_params

    @staticmethod
    def _request(config: HttpSourceConfig, params: dict[str, Any] | None) -> dict[str, Any]:
        request: dict[str, Any] = {
            "params": params or None,
            "headers": config.headers,
            "json": config.json_body,
            "max_response_bytes": config.max_response_bytes or DEFAULT_MAX_RESPONSE_BYTES,
            "streams_to_file": config.output_path is not None,
        }
        if isinstance(config.body, str):
            request["content"] = config.body
        elif isinstance(config.body, dict):
            request["data"] = config.body
        return request

    def _json_page(
        self,
        client: HttpClient,
        config: HttpSourceConfig,
        paginator: Paginator,
        url: str,
        params: dict[str, Any] | None,
        records_expr: Expression | None,
        progress: ProgressReporter,
        *,
        lines: OriginalLines | None = None,
    ) -> PageRecords:
        """One JSON page: read whole (bounded), records extracted, then where the next page is."""
        try:
            response = client.request(config.method, url, **self._request(config, params), on_bytes=progress.receiving)
        finally:
            progress.received()
        progress.update(bytes=len(response.content))
        body = response.json()
        # What records_path may build: the usual bound, or twice the body when that is larger (a page's records
        # can be as large as the page itself, which max_response_bytes already allows).
        limit = max(MAX_RESULT_SIZE, 2 * len(response.content))
        records = self._extract(body, records_expr, config, client.settings.safe_url(url), limit)
        digest, text = _digest_page(records)
        if lines is None or text is None:
            yield from records
        else:  # the whole page named at once: a consumer writing NDJSON takes its text as is
            lines.record = lines.line = None
            lines.page, lines.page_text = records, text
            yield from records
            lines.page = lines.page_text = None
        nxt_url, nxt_params = paginator.next_request(
            url=url, params=params, count=len(records), links=response.links, body=body, response_url=response.url
        )
        return len(records), nxt_url, nxt_params, digest

    def _ndjson_page(
        self,
        client: HttpClient,
        config: HttpSourceConfig,
        paginator: Paginator,
        url: str,
        params: dict[str, Any] | None,
        progress: ProgressReporter,
        *,
        lines: OriginalLines | None = None,
    ) -> PageRecords:
        """One NDJSON response, its records handed on while it downloads (memory: one line)."""
        count = 0
        digest = PageDigest()
        where = client.settings.safe_url(url)
        with client.stream(config.method, url, **self._request(config, params)) as response:
            seen = number = 0
            for batch in response.iter_line_batches():
                digest.add_line(b"\n".join(batch))  # a chunk's lines at once (blank ones too: pages compare alike)
                for raw in batch:
                    number += 1
                    line = raw.strip()
                    if not line:
                        continue
                    try:
                        record, exact = loads_json_exact(
                            line,
                            source=lambda: f"line {number} of the NDJSON response from {where}",  # noqa: B023
                        )
                    except NestingTooDeepError:
                        raise  # a ValueError too, but not "not JSON"
                    except ValueError as exc:
                        raise InvalidResponseError(
                            f"line {number} of the NDJSON response from {where} is not JSON ({exc})",
                            details={"line": number},
                        ) from None
                    count += 1
                    if lines is not None:
                        lines.record, lines.line = record, line if exact else None
                    yield record
                if response.bytes_read != seen:  # once per chunk, not per record
                    progress.update(bytes=response.bytes_read - seen)
                    seen = response.bytes_read
            links = response.links
        nxt_url, nxt_params = paginator.next_request(url=url, params=params, count=count, links=links)
        return count, nxt_url, nxt_params, digest.digest()

    @staticmethod
    def _extract(
        body: Any, records_expr: Expression | None, config: HttpSourceConfig, safe_url: str, limit: int
    ) -> list[Any]:
        if records_expr is None:
            return body if isinstance(body, list) else [body]
        found = records_expr.search(body, limit=limit)
        if found is None:
            keys = sorted(body) if isinstance(body, dict) else type(body).__name__
            raise InvalidResponseError(
                f"records_path {config.records_path!r} found nothing in the response from {safe_url} "
                f"(top-level keys: {keys}); fix records_path",
                details={"records_path": config.records_path},
            )
        return found if isinstance(found, list) else [found]
