"""``AiTransformOperator``: the ``ai.transform`` runtime as a typed Airflow operator (no logic beyond config).

Its keywords' types and defaults are :class:`~airflow_provider_flow.nodes.ai_transform.AiTransformConfig`'s own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from airflow_provider_flow.operators.base import FlowNodeOperator, config_from

if TYPE_CHECKING:  # annotations only: a DAG file parse never evaluates them
    from airflow_provider_flow.records.codecs import RecordFormat


class AiTransformOperator(FlowNodeOperator):
    """Enrich each record with structured output from an OpenAI-compatible chat-completions endpoint.

    :param data: the records: a list (e.g. an upstream ``.output``) or a file reference.
    :param model: model name sent to the endpoint.
    :param prompt: text with ``${expression}`` placeholders (JMESPath over the record, e.g.
        ``"Classify: ${title}"``; ``$$`` is a literal ``$``). Airflow's ``{{ ... }}`` still renders first.
    :param output_schema: a pydantic model class (replies validated by it, its validators included) or a JSON
        Schema dict (validated with jsonschema). The schema is sent as ``response_format``.
    :param llm_conn_id: connection with the base URL (host) and API key (password); see ``FlowLlmHook``.
    :param on_invalid: after ``max_repair_attempts`` repairs: ``fail`` (default), ``skip`` or ``keep`` (the
        record keeps the error under ``_ai_error``).
    :param cache_path: cache of finished records relative to the base (default
        ``.flow_cache/ai_transform/<dag>/<task>.ndjson``); needs ``fs_conn_id``, ``base_path`` or ``base_uri``.
        With it, an Airflow retry (on any worker, with ``base_uri``) sends no request for records already done.
    :param output_path: write the enriched records to this file and return a file reference.
    :param base_uri: object storage for the cache and ``output_path``: ``s3://bucket/prefix`` (or
        ``s3://conn_id@bucket/prefix``); the cache is then segment objects plus a manifest under
        ``cache_path`` without ``.ndjson`` (see the README's "AI transforms"). ``conn_id``: the connection holding
        its credentials; ``part_size``: bytes per multipart part of ``output_path``.
    :param response_format: ``json_schema`` (default) or ``json_object`` for servers without structured output.
    :param cache: False disables the cache of finished records.
    :param batch_size: records per request (1..100, default 1). Above 1, consecutive uncached records share one
        request whose reply is a ``results`` array, one validated item per record; the cache stays per record.
    """

    ui_color = "#f3e8ff"

    def __init__(
        self,
        *,
        data: Any,
        model: str,
        prompt: str,
        output_schema: type[BaseModel] | dict[str, Any],
        system_prompt: str | None = None,
        schema_name: str = "output",
        llm_conn_id: str = "llm_default",
        temperature: float | None = None,
        max_tokens: int | None = None,
        response_format: Literal["json_schema", "json_object"] = "json_schema",
        on_invalid: Literal["fail", "skip", "keep"] = "fail",
        max_repair_attempts: int = 2,
        max_concurrency: int = 4,
        batch_size: int = 1,
        output_field: str | None = None,
        overwrite_fields: list[str] | None = None,
        error_field: str = "_ai_error",
        cache_path: str | None = None,
        cache: bool = True,
        cache_max_entries: int = 50_000,
        output_path: str | None = None,
        output_format: RecordFormat | None = None,
        fs_conn_id: str | None = None,
        base_path: str | None = None,
        base_uri: str | None = None,
        conn_id: str | None = None,
        part_size: int | None = None,
        **kwargs: Any,
    ) -> None:
        # The config model comes with its runtime (LLM client, caches): imported by the task that needs it.
        from airflow_provider_flow.nodes.ai_transform import AiTransformConfig

        output_model = None
        if isinstance(output_schema, type) and issubclass(output_schema, BaseModel):
            # The config stays JSON (templating, XCom, UI); the class rides along, excluded from dumps.
            output_model, output_schema = output_schema, output_schema.model_json_schema()
        config = config_from(AiTransformConfig, locals())
        super().__init__(runtime="ai.transform", config=config, data=data, **kwargs)
