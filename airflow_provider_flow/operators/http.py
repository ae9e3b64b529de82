"""``HttpSourceOperator`` and ``HttpSinkOperator``: typed front doors to the ``http.source``/``http.sink`` runtimes.

They only collect their keyword arguments into the runtime's ``config`` (:func:`config_from`: None values dropped
so model defaults apply); the keywords' types and defaults are the config models' own (a test keeps them equal),
and all behaviour lives in the runtimes and in ``FlowNodeOperator``.

Query parameters: ``params`` is also the name of Airflow's own task ``params`` (DAG Params), which Airflow's
operator machinery intercepts and merges with the DAG's params before ``__init__`` sees it. So the query
parameters are taken from ``query_params``; ``params`` is accepted as an alias only when it is a plain dict of
query values passed directly (entries that came from the DAG's Params are never sent).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from airflow_provider_flow.airflow_compat import task_level_params
from airflow_provider_flow.operators.base import FlowNodeOperator, config_from
from airflow_provider_flow.operators.staged_assets import declare_staged_output

if TYPE_CHECKING:  # annotations only: a DAG file parse never evaluates them
    from airflow_provider_flow.http.pagination import HttpPagination
    from airflow_provider_flow.http.settings import HttpRetryConfig, HttpTimeoutConfig
    from airflow_provider_flow.incremental import IncrementalConfig
    from airflow_provider_flow.nodes.http_source import HttpMethod


class HttpSourceOperator(FlowNodeOperator):
    """Fetch records from an HTTP API (``http.source``): to XCom, or streamed to a file with ``output_path``.

    :param endpoint: path joined to the connection's base URL, or an absolute URL (templated through ``config``).
    :param http_conn_id: an Airflow ``http`` connection (see ``FlowHttpHook`` for the extra keys).
    :param query_params: query parameters (``params`` works too, see the module docstring).
    :param json: JSON request body; ``body``: raw string or form dict (``data`` is the node's input).
    :param timeout: seconds for every phase, or ``{"connect":.., "read":.., "write":.., "pool":.., "total":..}``.
    :param records_path: JMESPath/dotted path to the records in the JSON body.
    :param pagination: ``{"type": "link"}``, ``{"type": "cursor", "cursor_path": .., "cursor_param": ..}``,
        ``{"type": "next_url", "next_url_path": ..}``, ``{"type": "page", ...}``, ``{"type": "offset", ...}``.
    :param max_pages: stop after this many pages, 10,000 by default (``on_max_pages="fail"`` to fail instead).
    :param output_path: stream the records to this file (relative to ``base_path`` or the ``fs_conn_id``
        connection's base, ``fs_default`` when neither is given); XCom then carries a file reference.
    :param base_uri: stage ``output_path`` in object storage instead: ``s3://bucket/prefix`` (or
        ``s3://conn_id@bucket/prefix``); see the README's "Staging in object storage". A static ``output_path``
        there declares its ``s3://bucket/key`` Asset as the task's outlet (unless ``outlets`` is given).
    :param conn_id: the Airflow connection (e.g. ``aws``) holding ``base_uri``'s credentials.
    :param part_size: object storage: bytes per multipart part (5 MiB to 5 GiB, default 8 MiB).
    :param max_response_bytes: fail when one response (or the whole XCom result) exceeds this size.
    :param incremental: ``{"cursor": .., "param": .., "initial_value": .., "lag": .., "end_value": ..}``: fetch
        only what changed since the committed watermark; put a ``WatermarkCommitOperator`` after the sinks
        (README: "Incremental loading").
    """

    def __init__(
        self,
        *,
        endpoint: str,
        http_conn_id: str = "http_default",
        method: HttpMethod = "GET",
        params: Mapping[str, Any] | None = None,
        query_params: Mapping[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        sensitive_headers: list[str] | None = None,
        json: Any = None,
        body: str | dict[str, Any] | None = None,
        timeout: float | HttpTimeoutConfig | dict[str, float] | None = None,
        retry: HttpRetryConfig | dict[str, Any] | None = None,
        records_path: str | None = None,
        response_format: Literal["json", "ndjson"] = "json",
        pagination: HttpPagination | dict[str, Any] | None = None,
        max_pages: int = 10_000,
        on_max_pages: Literal["stop", "fail"] = "stop",
        output_path: str | None = None,
        fs_conn_id: str | None = "fs_default",
        base_path: str | None = None,
        base_uri: str | None = None,
        conn_id: str | None = None,
        part_size: int | None = None,
        output_format: Literal["ndjson", "json", "csv"] = "ndjson",
        write_mode: Literal["overwrite", "error_if_exists"] = "overwrite",
        max_response_bytes: int | None = None,
        incremental: IncrementalConfig | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        # The config models come with their runtimes (HTTP client, codecs, storage): imported by the task that
        # needs one, not by every DAG file that imports this module.
        from airflow_provider_flow.nodes.http_source import HttpSourceConfig

        query = dict(query_params) if query_params is not None else task_level_params(params, kwargs.get("dag"))
        config = config_from(HttpSourceConfig, {**locals(), "params": query or None})
        declare_staged_output(kwargs, output_path=output_path, base_uri=base_uri)  # s3://bucket/key outlet
        super().__init__(runtime="http.source", config=config, **kwargs)


class HttpSinkOperator(FlowNodeOperator):
    """Send records (inline, or an upstream file reference) to an HTTP API in batches (``http.sink``).

    The XCom result is ``{"accepted_records", "batches", "endpoint", "method"}``. On failure after some batches
    were accepted, the error (and the task log) lists exactly which batches and record ranges were accepted.
    """

    def __init__(
        self,
        *,
        endpoint: str,
        data: Any,
        http_conn_id: str = "http_default",
        method: Literal["POST", "PUT", "PATCH"] = "POST",
        batch_size: int = 100,
        max_concurrency: int = 4,
        headers: dict[str, str] | None = None,
        sensitive_headers: list[str] | None = None,
        idempotency_key_header: str | None = None,
        resend_unknown: bool = False,
        batch_key: str | None = None,
        timeout: float | HttpTimeoutConfig | dict[str, float] | None = None,
        retry: HttpRetryConfig | dict[str, Any] | None = None,
        fs_conn_id: str | None = None,
        base_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        from airflow_provider_flow.nodes.http_sink import HttpSinkConfig

        super().__init__(runtime="http.sink", config=config_from(HttpSinkConfig, locals()), data=data, **kwargs)
