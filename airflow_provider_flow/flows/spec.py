"""The flow-file schema: a DAG written as YAML or JSON, as pydantic models that import nothing of Airflow.

A flow file declares the DAG settings and its nodes::

    dag_id: orders_hourly
    schedule: "@hourly"          # cron, preset, or null for UI/API-triggered only
    start_date: 2024-01-01
    catchup: false
    tags: [flow]
    defaults: {retries: 2, retry_delay_seconds: 5}
    params:
      limit: {type: integer, default: 50, minimum: 1, description: "How many records"}
    nodes:
      - id: fetch
        runtime: http.source
        config: {endpoint: /api/orders, http_conn_id: flow_demo_api}
      - id: save
        runtime: file.sink
        upstream: [fetch]
        config: {path: "orders/{{ ds }}.ndjson", fs_conn_id: flow_demo_fs}

These models are the file's schema (the JSON Schema that ``python -m airflow_provider_flow schema`` prints comes
from them) and forbid unknown keys; :mod:`airflow_provider_flow.flows.loader` reads files into them and runs
the checks that need more than one field (graph, runtimes, each node's config).

Importing this module never imports Airflow: the command-line check runs on a laptop without a scheduler.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.incremental import IncrementalConfig

#: Airflow's dag_id rule (letters, digits, dashes, dots, underscores; at most 250 characters).
DAG_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,250}$"

#: Airflow task ids allow letters, digits, dashes, dots and underscores.
NODE_ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,249}$"

#: Schedule strings Airflow accepts besides cron expressions.
SCHEDULE_PRESETS = ("@once", "@continuous", "@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly")

#: The commit step the builder adds after an incremental node is named ``<node id>`` + this.
COMMIT_TASK_SUFFIX = "_commit_watermark"
#: The DAG param a flow with incremental nodes gets (unless it defines its own) and the template reading it.
FULL_REFRESH_PARAM = "full_refresh"
FULL_REFRESH_TEMPLATE = "{{ params.full_refresh }}"

_JSON_SCHEMA_TYPES = ("string", "integer", "number", "boolean", "array", "object", "null")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ParamSpec(_Strict):
    """One DAG param: a JSON-schema fragment that becomes an ``airflow.sdk.Param`` and a field of the trigger form."""

    type: str | list[str] | None = Field(default=None, description="JSON-schema type, or a list of them.")
    default: Any = None
    description: str | None = None
    title: str | None = None
    enum: list[Any] | None = None
    pattern: str | None = None
    format: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    minLength: int | None = Field(default=None, ge=0)
    maxLength: int | None = Field(default=None, ge=0)
    items: dict[str, Any] | None = None
    examples: list[Any] | None = None

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str | list[str] | None) -> str | list[str] | None:
        for item in [value] if isinstance(value, str) else value or []:
            if item not in _JSON_SCHEMA_TYPES:
                raise ValueError(f"unknown JSON-schema type {item!r}; use one of {', '.join(_JSON_SCHEMA_TYPES)}")
        return value

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"pattern does not compile: {exc}") from None
        return value

    def json_schema(self) -> dict[str, Any]:
        """The JSON schema Airflow's ``Param`` gets (everything but the default)."""
        return self.model_dump(exclude={"default"}, exclude_none=True)


class TaskDefaults(_Strict):
    """Task settings every node gets unless it sets its own."""

    retries: int | None = Field(default=None, ge=0)
    retry_delay_seconds: float | None = Field(default=None, ge=0)
    execution_timeout_seconds: float | None = Field(default=None, gt=0)


def _check_asset_uri(uri: str) -> str:
    """What ``airflow.sdk.Asset`` would refuse while the DAG is built, as a validation error (no Airflow import)."""
    if not uri.strip():
        raise ValueError("an asset URI cannot be empty")
    if uri.split("://", 1)[0].lower() == "airflow" and "://" in uri:
        raise ValueError(f"asset URI {uri!r}: the scheme 'airflow' is reserved by Airflow")
    return uri


class FlowNode(_Strict):
    """One step of a flow: which runtime runs it, with what config, after which other nodes, with which task
    settings."""

    id: str = Field(pattern=NODE_ID_PATTERN, description="Unique within the flow; becomes the Airflow task_id.")
    runtime: str = Field(min_length=1, description="A name in the runtime registry, e.g. 'http.source'.")
    config: dict[str, Any] = Field(default_factory=dict)
    upstream: list[str] = Field(default_factory=list, description="Ids of nodes whose output this node reads.")
    retries: int | None = Field(default=None, ge=0)
    retry_delay_seconds: float | None = Field(default=None, ge=0)
    execution_timeout_seconds: float | None = Field(default=None, gt=0)
    outlets: list[str] = Field(default_factory=list, description="Asset URIs this node updates when it succeeds.")
    incremental: IncrementalConfig | None = Field(
        default=None,
        description="Load incrementally (http.source): fetch only what changed since the watermark, which a commit "
        "step after the flow's last nodes stores once they succeeded. 'full_refresh' defaults to the DAG param "
        "'full_refresh'. README: Incremental loading.",
    )

    @field_validator("outlets", mode="after")
    @classmethod
    def _asset_uris(cls, value: list[str]) -> list[str]:
        return [_check_asset_uri(uri) for uri in value]

    # --- incremental loading (issue 14) ---
    @property
    def commit_task_id(self) -> str:
        """The task the flow builder adds to commit this node's watermark (only with ``incremental``)."""
        return f"{self.id}{COMMIT_TASK_SUFFIX}"

    def runtime_config(self) -> dict[str, Any]:
        """The runtime's config: ``config`` plus ``incremental`` (full_refresh from the DAG param unless set)."""
        config = dict(self.config)
        if self.incremental is not None:
            block = self.incremental.model_dump(mode="json", exclude_unset=True)
            block.setdefault("full_refresh", FULL_REFRESH_TEMPLATE)
            config["incremental"] = block
        return config


class FlowSpec(_Strict):
    """A whole flow file: DAG settings, params and nodes."""

    dag_id: str = Field(pattern=DAG_ID_PATTERN)
    description: str | None = None
    schedule: str | None = Field(default=None, description="Cron expression or preset; null = triggered only.")
    schedule_assets: list[str] = Field(
        default_factory=list, description="Asset URIs that trigger the DAG (instead of a time schedule)."
    )
    start_date: datetime = Field(default=datetime(2024, 1, 1, tzinfo=timezone.utc))
    catchup: bool = False
    tags: list[str] = Field(default_factory=list)
    max_active_runs: int | None = Field(default=None, ge=1)
    defaults: TaskDefaults = Field(default_factory=TaskDefaults)
    params: dict[str, ParamSpec] = Field(default_factory=dict)
    nodes: list[FlowNode] = Field(min_length=1)

    @field_validator("start_date", mode="before")
    @classmethod
    def _date_is_midnight_utc(cls, value: Any) -> Any:
        """YAML turns ``2024-01-01`` into a date; a naive datetime is taken as UTC."""
        if isinstance(value, date) and not isinstance(value, datetime):
            return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
        if isinstance(value, datetime) and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value

    @field_validator("schedule")
    @classmethod
    def _cron_or_preset(cls, value: str | None) -> str | None:
        """Airflow only checks a cron string when the DAG processor serializes the DAG (a traceback in the UI)."""
        if value is None or value in SCHEDULE_PRESETS:
            return value
        if value.startswith("@"):
            raise ValueError(f"unknown schedule preset {value!r}; use one of {', '.join(SCHEDULE_PRESETS)}")
        try:
            from croniter import croniter
        except ImportError:  # pragma: no cover - croniter comes with Airflow; without it Airflow checks it later
            return value
        try:
            croniter(value)
        except (ValueError, KeyError) as exc:
            raise ValueError(f"not a valid cron expression ({exc}); e.g. '0 * * * *' or '@hourly'") from None
        return value

    @field_validator("schedule_assets", mode="after")
    @classmethod
    def _asset_uris(cls, value: list[str]) -> list[str]:
        return [_check_asset_uri(uri) for uri in value]

    @model_validator(mode="after")
    def _one_schedule(self) -> FlowSpec:
        if self.schedule is not None and self.schedule_assets:
            raise ValueError("give either 'schedule' (time) or 'schedule_assets' (assets), not both")
        return self

    def node(self, node_id: str) -> FlowNode:
        return next(n for n in self.nodes if n.id == node_id)

    def topological_order(self) -> list[FlowNode]:
        """Nodes with every upstream before its downstreams (file order among independent nodes)."""
        done: set[str] = set()
        ordered: list[FlowNode] = []
        pending = list(self.nodes)
        while pending:
            ready = [n for n in pending if all(u in done for u in n.upstream)]
            if not ready:  # validate() rejects cycles; this keeps an invalid spec from looping forever
                raise FlowValidationError("flow has a cycle", field="upstream")
            for node in ready:
                done.add(node.id)
                ordered.append(node)
            pending = [n for n in pending if n.id not in done]
        return ordered
