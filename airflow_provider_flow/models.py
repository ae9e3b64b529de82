"""The node AST: pydantic models for nodes and for the config of every built-in runtime.

Configs are validated twice: at DAG-parse time for the parts that hold no template (so a misspelled key fails
the DAG import), and at run time after rendering. Every model forbids unknown keys, and
:func:`validation_error_from_pydantic` turns pydantic's report into one :class:`FlowValidationError` that names
the field, the value and the allowed keys.
"""

from __future__ import annotations

import codecs
import difflib
from collections.abc import Callable, Mapping
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from airflow_provider_flow.errors import FlowValidationError

#: Airflow task ids allow letters, digits, dashes, dots and underscores.
NODE_ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,249}$"


class ConfigModel(BaseModel):
    """Base of every runtime config: unknown keys are errors, values are validated on assignment too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True)


class Node(ConfigModel):
    """One step of a flow: which runtime runs it, with what config, after which other nodes."""

    id: str = Field(pattern=NODE_ID_PATTERN, description="Unique within the flow; becomes the Airflow task_id.")
    runtime: str = Field(min_length=1, description="A name in the runtime registry, e.g. 'http.source'.")
    config: dict[str, Any] = Field(default_factory=dict)
    upstream: list[str] = Field(default_factory=list, description="Ids of nodes whose output this node reads.")


class FileReference(ConfigModel):
    """Where a large output lives, handed between tasks through XCom instead of the data itself.

    ``path`` is relative to the base directory, so a task on another worker resolves it against its own
    ``fs_conn_id`` (or ``base_path``) and the confinement rules apply again on read.
    """

    kind: Literal["file"] = "file"
    path: str
    base_path: str | None = None
    fs_conn_id: str | None = None
    format: str
    encoding: str = "utf-8"
    records: int = Field(ge=0)
    bytes: int = Field(ge=0)
    sha256: str
    pages: int | None = None

    @classmethod
    def is_reference(cls, value: Any) -> bool:
        """True for a dict (as it comes out of XCom) or model that describes a file reference."""
        if isinstance(value, FileReference):
            return True
        return isinstance(value, dict) and value.get("kind") == "file" and "path" in value


#: ``kind`` of the input a node with several upstream nodes receives (see :func:`upstream_outputs`).
UPSTREAMS_KIND = "upstreams"


def upstream_outputs(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """The input of a node with several upstream nodes: their outputs by id, in the order listed.

    Record-reading runtimes read the records of each output one after another (a union, not a join), whether an
    output is inline records or a file reference; the envelope keeps that unambiguous from a single dict record.
    """
    return {"kind": UPSTREAMS_KIND, "outputs": dict(outputs)}


def _format_loc(prefix: str, loc: list[int | str]) -> str:
    parts = [prefix] if prefix else []
    for item in loc:
        parts.append(f"[{item}]" if isinstance(item, int) else str(item))
    return ".".join(parts).replace(".[", "[")


def _unwrap_optional(annotation: Any) -> Any:
    """``Annotated[X, ...]`` and ``X | None`` -> ``X``: pydantic's locations do not name those layers."""
    while True:
        origin, args = get_origin(annotation), get_args(annotation)
        if origin is Annotated:
            annotation = args[0]
        elif origin in (Union, UnionType) and len([a for a in args if a is not type(None)]) == 1:
            annotation = next(a for a in args if a is not type(None))
        else:
            return annotation


def _walk_loc(model: type[BaseModel], loc: tuple[int | str, ...]) -> tuple[list[int | str], Any]:
    """Follow a pydantic error location through the models' annotations.

    Returns the location as a user wrote it (pydantic's union-member tags such as ``SortSpec`` or
    ``function-after[...]`` removed) and the annotation reached, so an unknown key can list the keys of the
    nested model that owns it rather than the top-level ones.
    """
    path: list[int | str] = []
    annotation: Any = model
    for item in loc:
        annotation = _unwrap_optional(annotation)
        origin, args = get_origin(annotation), get_args(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(item))
            annotation = field.annotation if field is not None else Any
            path.append(item)
        elif origin in (Union, UnionType):
            # pydantic names the union member it tried; that tag is not part of what the user wrote
            matching = [m for m in _union_models(annotation) if m.__name__ == item]
            annotation = matching[0] if matching else Any
        elif origin in (list, tuple, set) and isinstance(item, int):
            annotation = args[0] if args else Any
            path.append(item)
        elif origin is dict and len(args) == 2:
            annotation = args[1]
            path.append(item)
        else:
            annotation = Any
            path.append(item)
    return path, annotation


def validation_error_from_pydantic(
    exc: ValidationError, model: type[BaseModel], *, prefix: str = "config", context: str = ""
) -> FlowValidationError:
    """Turn pydantic's report into one error a DAG author can act on: field, value, and the fix."""
    lines = []
    first_field: str | None = None
    first_value: Any = None
    for error in exc.errors(include_url=False):
        loc = tuple(error.get("loc", ()))
        path, _ = _walk_loc(model, loc)
        field = _format_loc(prefix, path)
        value = error.get("input")
        if first_field is None:
            first_field, first_value = field, value
        if error.get("type") == "extra_forbidden":
            _, owner = _walk_loc(model, loc[:-1])
            owner = _unwrap_optional(owner)
            if isinstance(owner, type) and issubclass(owner, BaseModel):
                lines.append(f"{field}: unknown key {loc[-1]!r}; {allowed_keys_hint(owner, str(loc[-1]))}")
            else:
                lines.append(f"{field}: unknown key {loc[-1]!r}")
        elif error.get("type") == "missing":
            lines.append(f"{field}: required but missing")
        else:
            shown = repr(value)
            if len(shown) > 120:
                shown = shown[:117] + "..."
            lines.append(f"{field}: {error.get('msg')} (got {shown})")
    where = f"{context}: " if context else ""
    message = where + "invalid " + model.__name__ + ": " + "; ".join(lines)
    err = FlowValidationError(message, value=first_value, details={"errors": lines})
    err.field = first_field
    return err


def holds_template(value: Any, *, deferred_types: tuple[type, ...] = ()) -> bool:
    """True when a value is only known at run time: a Jinja string, or a ``deferred_types`` instance
    (the operator passes Airflow's XComArg types), anywhere inside it."""
    if deferred_types and isinstance(value, deferred_types):
        return True
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(
            holds_template(k, deferred_types=deferred_types) or holds_template(v, deferred_types=deferred_types)
            for k, v in value.items()
        )
    if isinstance(value, (list, tuple, set)):
        return any(holds_template(v, deferred_types=deferred_types) for v in value)
    return False


def allowed_keys_hint(model: type[BaseModel], key: str) -> str:
    """'did you mean ...? allowed keys: ...' for an unknown key of ``model``."""
    allowed = sorted(model.model_fields)
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{hint}allowed keys: {', '.join(allowed)}"


def unknown_keys_under_templates(
    model: type[BaseModel], config: dict[str, Any], *, deferred_types: tuple[type, ...] = ()
) -> list[str]:
    """Misspelled keys inside (or naming) templated values, which ``validate_static_config`` skips whole.

    A template decides a value, never which keys exist, so an unknown key is wrong whatever renders: one
    templated ``limit`` must not hide a misspelled ``filtr`` next to it until the first run. Walks the config
    against the models' fields (pydantic cannot be asked: the templated leaves fail their own type checks).
    """
    templated = {key: value for key, value in config.items() if holds_template(value, deferred_types=deferred_types)}
    return _unknown_keys(model, templated, "config")


def _unknown_keys(model: type[BaseModel], value: Any, where: str) -> list[str]:
    if not isinstance(value, Mapping):
        return []
    by_key = {(info.alias or name): info for name, info in model.model_fields.items()}
    by_key.update(model.model_fields)
    problems: list[str] = []
    for key, item in value.items():
        if holds_template(key):
            continue
        info = by_key.get(key)
        if info is None:
            problems.append(f"{where}.{key}: unknown key {key!r}; {allowed_keys_hint(model, str(key))}")
            continue
        problems.extend(_unknown_keys_in(info.annotation, item, f"{where}.{key}"))
    return problems


def _unknown_keys_in(annotation: Any, value: Any, where: str) -> list[str]:
    """Descend into the nested models an annotation allows; skip what cannot be told apart without rendering."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _unknown_keys_in(args[0], value, where)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _unknown_keys(annotation, value, where)
    if origin in (list, tuple) and args and isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _unknown_keys_in(args[0], item, f"{where}[{i}]")]
    if origin is dict and len(args) == 2 and isinstance(value, Mapping):
        return [p for k, item in value.items() for p in _unknown_keys_in(args[1], item, f"{where}.{k}")]
    if origin in (Union, UnionType) and isinstance(value, Mapping):
        fitting = [m for m in _union_models(annotation) if _discriminator_fits(m, value)]
        if len(fitting) == 1:
            return _unknown_keys(fitting[0], value, where)
    return []


def _union_models(annotation: Any) -> list[type[BaseModel]]:
    """The models among a union's members, nested unions and ``Annotated`` wrappers flattened."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _union_models(args[0])
    if origin in (Union, UnionType):
        return [model for arg in args for model in _union_models(arg)]
    return [annotation] if isinstance(annotation, type) and issubclass(annotation, BaseModel) else []


def _discriminator_fits(model: type[BaseModel], value: Mapping[str, Any]) -> bool:
    """False when the model's ``type: Literal[...]`` field rules out this value (tagged unions)."""
    info = model.model_fields.get("type")
    if info is None or get_origin(info.annotation) is not Literal or "type" not in value:
        return True
    return value["type"] in get_args(info.annotation) or holds_template(value["type"])


def validate_static_config(
    model: type[BaseModel], config: dict[str, Any], *, context: str = "", deferred_types: tuple[type, ...] = ()
) -> None:
    """Validate what is known before rendering: keys holding templates are skipped (and may be missing).

    Used at DAG-parse time by the operator and by the flow-file validator, so a misspelled key or a bad literal
    fails early with the same message in both places.
    """
    templated = {key for key, value in config.items() if holds_template(value, deferred_types=deferred_types)}
    static = {key: value for key, value in config.items() if key not in templated}
    unknown = unknown_keys_under_templates(model, config, deferred_types=deferred_types)
    if unknown:
        where = f"{context}: " if context else ""
        raise FlowValidationError(
            f"{where}invalid {model.__name__}: " + "; ".join(unknown), details={"errors": unknown}
        )
    try:
        model.model_validate(static)
    except ValidationError as exc:
        # A model-level check (empty loc) may depend on a templated key: it runs again after rendering.
        relevant = [
            e
            for e in exc.errors()
            if not (e.get("loc") and e["loc"][0] in templated) and not (templated and not e.get("loc"))
        ]
        if relevant:
            only = ValidationError.from_exception_data(exc.title, relevant)  # type: ignore[arg-type]
            raise validation_error_from_pydantic(only, model, context=context) from None


def validate_config(model: type[BaseModel], config: dict[str, Any], *, context: str = "") -> Any:
    """Validate a rendered config dict, raising :class:`FlowValidationError` instead of pydantic's error."""
    try:
        return model.model_validate(config)
    except ValidationError as exc:
        raise validation_error_from_pydantic(exc, model, context=context) from None


# ------------------------------------------------------------------------------------------------------------
# Config models of the built-in runtimes. Each runtime issue owns its own section below.
# ------------------------------------------------------------------------------------------------------------

# === http (http.source, http.sink) ===


HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]


class HttpTimeoutConfig(ConfigModel):
    """Per-phase timeouts (seconds) and ``total``: the overall deadline of one request, body included."""

    connect: float | None = Field(None, gt=0)
    read: float | None = Field(None, gt=0)
    write: float | None = Field(None, gt=0)
    pool: float | None = Field(None, gt=0)
    total: float | None = Field(None, gt=0)


class HttpRetryConfig(ConfigModel):
    """Overrides of the connection's in-task retry budget (``max_attempts=1`` disables in-task retries)."""

    max_attempts: int | None = Field(None, ge=1, le=20)
    max_elapsed: float | None = Field(None, ge=0, le=3600)
    initial_backoff: float | None = Field(None, ge=0, le=60)
    max_backoff: float | None = Field(None, ge=0, le=600)


class LinkPagination(ConfigModel):
    """Follow ``Link: <url>; rel="next"`` headers (GitHub, many REST APIs)."""

    type: Literal["link"]


class CursorPagination(ConfigModel):
    """A cursor read from the body (``cursor_path``, JMESPath) is sent back as query parameter ``cursor_param``."""

    type: Literal["cursor"]
    cursor_path: str = Field(min_length=1)
    cursor_param: str = Field("cursor", min_length=1)


class NextUrlPagination(ConfigModel):
    """The body holds the next page's URL (``next_url_path``, JMESPath), e.g. ``next`` or ``links.next``."""

    type: Literal["next_url"]
    next_url_path: str = Field(min_length=1)


class PagePagination(ConfigModel):
    """A page counter query parameter; stops at an empty page (or a short one when ``page_size`` is given)."""

    type: Literal["page"]
    page_param: str = Field("page", min_length=1)
    start_page: int = Field(1, ge=0)
    page_size: int | None = Field(None, ge=1)
    page_size_param: str | None = None


class OffsetPagination(ConfigModel):
    """Offset/limit query parameters; stops at an empty or short page."""

    type: Literal["offset"]
    offset_param: str = Field("offset", min_length=1)
    limit_param: str = Field("limit", min_length=1)
    limit: int = Field(100, ge=1)
    start_offset: int = Field(0, ge=0)


HttpPagination = Annotated[
    LinkPagination | CursorPagination | NextUrlPagination | PagePagination | OffsetPagination,
    Field(discriminator="type"),
]


class HttpSourceConfig(ConfigModel):
    """``http.source``: fetch records from an HTTP API, page by page, to XCom or streamed to a file."""

    endpoint: str = Field(description="Path joined to the connection's base URL, or an absolute URL.")
    http_conn_id: str = "http_default"
    method: HttpMethod = "GET"
    params: dict[str, Any] | None = Field(None, description="Query parameters.")
    headers: dict[str, str] | None = None
    json_body: Any = Field(None, alias="json", description="JSON request body.")
    body: str | dict[str, Any] | None = Field(None, description="Raw (str) or form-encoded (dict) request body.")
    timeout: float | HttpTimeoutConfig | None = Field(
        None, description="Seconds for every phase (total = 10x), or per phase; default: the connection's."
    )
    retry: HttpRetryConfig | None = None
    records_path: str | None = Field(
        None, description="JMESPath/dotted path to the records in a JSON body; default: the body if it is a list."
    )
    response_format: Literal["json", "ndjson"] = Field(
        "json", description="'ndjson' parses the body line by line while it streams (flat memory on one response)."
    )
    pagination: HttpPagination | None = None
    max_pages: int | None = Field(None, ge=1)
    on_max_pages: Literal["stop", "fail"] = Field(
        "stop", description="When more pages remain after max_pages: stop with a warning, or fail."
    )
    output_path: str | None = Field(None, description="Stream records to this file (under the base) instead of XCom.")
    fs_conn_id: str | None = None
    base_path: str | None = None
    output_format: Literal["ndjson", "json", "csv"] = "ndjson"
    write_mode: Literal["overwrite", "error_if_exists"] = "overwrite"
    max_response_bytes: int | None = Field(
        None, ge=1, description="Fail when one response body exceeds this many bytes (default 64 MiB)."
    )

    @model_validator(mode="after")
    def _check_combinations(self) -> HttpSourceConfig:
        if self.json_body is not None and self.body is not None:
            raise ValueError("give either 'json' or 'body' as the request body, not both")
        return self


class HttpSinkConfig(ConfigModel):
    """``http.sink``: send records in JSON batches with bounded concurrency."""

    endpoint: str
    http_conn_id: str = "http_default"
    method: Literal["POST", "PUT", "PATCH"] = "POST"
    batch_size: int = Field(100, ge=1, le=100_000)
    max_concurrency: int = Field(4, ge=1, le=64)
    headers: dict[str, str] | None = None
    idempotency_key_header: str | None = Field(
        None, description="Header carrying a key derived from the run and the batch content (e.g. Idempotency-Key)."
    )
    batch_key: str | None = Field(
        None, description="Wrap each batch as {batch_key: [records]}; default: send a JSON array."
    )
    timeout: float | HttpTimeoutConfig | None = None
    retry: HttpRetryConfig | None = None
    fs_conn_id: str | None = None
    base_path: str | None = None


# === file (file.source, file.sink) ===


FileFormat = Literal["json", "ndjson", "csv", "text"]
FileWriteMode = Literal["overwrite", "append", "error_if_exists"]


def _known_encoding(value: str) -> str:
    try:
        codecs.lookup(value)
    except LookupError:
        raise ValueError(f"unknown text encoding {value!r}; use a Python codec name such as 'utf-8'") from None
    return value


class FileSourceConfig(ConfigModel):
    """``file.source``: read records from files under a confined base directory.

    The path (or glob pattern) is only checked for confinement at run time, after rendering, by
    ``fileio.confine_path``: it is hostile input whether typed in the DAG or passed in ``params``.
    """

    path: str = Field(description="Relative to the base directory; '*', '?', '[..]' and '**' glob over it.")
    fs_conn_id: str | None = Field("fs_default", description="An 'fs' connection whose extra 'path' is the base.")
    base_path: str | None = Field(None, description="Absolute base directory; wins over fs_conn_id.")
    format: FileFormat | None = Field(None, description="Default: from each file's extension.")
    encoding: str = "utf-8"
    output: Literal["auto", "records", "reference"] = Field(
        "auto", description="auto: records to XCom up to max_inline_bytes of files, else file references."
    )
    max_inline_bytes: int = Field(1_048_576, ge=0, description="Largest total file size returned as records.")
    allow_empty: bool = Field(False, description="A glob matching nothing returns [] instead of failing.")

    _check_encoding = field_validator("encoding")(_known_encoding)


class FileSinkConfig(ConfigModel):
    """``file.sink``: write the input records (inline or from a file reference) atomically under the base."""

    path: str = Field(description="Target relative to the base directory; missing folders are created.")
    fs_conn_id: str | None = Field("fs_default", description="An 'fs' connection whose extra 'path' is the base.")
    base_path: str | None = Field(None, description="Absolute base directory; wins over fs_conn_id.")
    format: FileFormat | None = Field(None, description="Default: from the target's extension.")
    mode: FileWriteMode = "overwrite"
    encoding: str = "utf-8"
    create_dirs: bool = Field(True, description="Create missing folders below the base (never the base itself).")

    _check_encoding = field_validator("encoding")(_known_encoding)


# === transform ===


def _expression(value: str) -> str:
    from airflow_provider_flow.runtimes.expressions import check_expression

    return check_expression(value)


#: A JMESPath expression, compiled when the config is validated (so a syntax error fails the DAG import).
JmesExpression = Annotated[str, AfterValidator(_expression)]

TRANSFORM_OPERATIONS = ("filter", "select", "map", "rename", "drop", "limit", "sort_by", "unique_by", "apply")


class SortSpec(ConfigModel):
    """``{"sort_by": {"key": "age", "reverse": true}}``; the short form ``{"sort_by": "age"}`` sorts ascending."""

    key: JmesExpression
    reverse: bool = False


class TransformOperation(ConfigModel):
    """One step of a transform; exactly one key is set (checked with a message naming the allowed ones)."""

    filter: JmesExpression | None = None
    select: dict[str, JmesExpression] | None = None
    map: dict[str, JmesExpression] | None = None
    rename: dict[str, str] | None = None
    drop: list[str] | None = None
    limit: int | None = Field(default=None, ge=0)
    sort_by: JmesExpression | SortSpec | None = None
    unique_by: JmesExpression | None = None
    apply: Callable[[Any], Any] | None = Field(default=None, exclude=True)
    """A Python callable (DAG files only; JSON and flow files cannot hold one): record -> record, or None to drop."""

    @field_validator("rename")
    @classmethod
    def _distinct_targets(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        targets = list((value or {}).values())
        twice = sorted({t for t in targets if targets.count(t) > 1})
        if twice:
            raise ValueError(f"two fields are renamed to {twice[0]!r}; one would silently overwrite the other")
        return value

    @model_validator(mode="after")
    def _one_operation(self) -> TransformOperation:
        chosen = [name for name in TRANSFORM_OPERATIONS if getattr(self, name) is not None]
        if len(chosen) != 1:
            raise ValueError(f"an operation has exactly one key, one of {', '.join(TRANSFORM_OPERATIONS)}")
        return self

    @property
    def kind(self) -> str:
        return next(name for name in TRANSFORM_OPERATIONS if getattr(self, name) is not None)


class TransformConfig(ConfigModel):
    """Config of the ``transform`` runtime: ordered operations over records (inline or a file reference)."""

    operations: list[TransformOperation] = Field(default_factory=list)
    output_path: str | None = Field(
        default=None, description="Stream the result to this file (relative to the base) and return a reference."
    )
    fs_conn_id: str | None = None
    base_path: str | None = None
    output_format: Literal["ndjson", "json", "csv", "text"] | None = Field(
        default=None, description="Format of output_path; default from its extension (.ndjson/.jsonl, .json, .csv)."
    )
    sort_buffer_records: int = Field(
        default=100_000,
        ge=1,
        description="sort_by holds at most this many records in memory and spills sorted runs to temp files beyond.",
    )
    max_unique_keys: int = Field(
        default=5_000_000,
        ge=1,
        description="unique_by keeps a 16-byte digest per distinct key; more distinct keys than this fails clearly.",
    )

    @field_validator("operations", mode="before")
    @classmethod
    def _known_operations(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                continue
            keys = list(item)
            unknown = [k for k in keys if k not in TRANSFORM_OPERATIONS]
            if unknown:
                raise ValueError(
                    f"operations[{index}]: unknown operation {unknown[0]!r}; allowed: {', '.join(TRANSFORM_OPERATIONS)}"
                )
            if len(keys) != 1:
                raise ValueError(
                    f"operations[{index}]: one key per operation, got {keys}; write them as separate list items"
                )
        return value


# === ai.transform ===
def _json_schema(value: dict[str, Any]) -> dict[str, Any]:
    """Check the schema itself (Draft 2020-12) so a broken schema fails the DAG import, not record 1."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(value)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        raise ValueError(f"not a valid JSON Schema at {where}: {exc.message}") from None
    if value.get("type") != "object":
        raise ValueError('the output schema must describe an object: {"type": "object", "properties": {...}}')
    return value


def _text_template(value: str) -> str:
    from airflow_provider_flow.runtimes.expressions import check_template

    return check_template(value)


class AiTransformConfig(ConfigModel):
    """Config of the ``ai.transform`` runtime: one chat-completions call per record (or batch), validated JSON out."""

    model: str = Field(min_length=1, description="Model name sent to the endpoint, e.g. 'gpt-4o-mini'.")
    prompt: Annotated[str, AfterValidator(_text_template)] = Field(
        min_length=1, description="Text with ${expression} placeholders (JMESPath over the record), e.g. '${title}'."
    )
    system_prompt: Annotated[str, AfterValidator(_text_template)] | None = None
    output_schema: Annotated[dict[str, Any], AfterValidator(_json_schema)]
    output_model: type[BaseModel] | None = Field(default=None, exclude=True)
    """Python DAGs: the pydantic model behind ``output_schema``; replies are validated with it (custom validators
    included). JSON/flow configs give only the schema, validated with jsonschema."""
    schema_name: str = Field(default="output", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    llm_conn_id: str = "llm_default"
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1)
    response_format: Literal["json_schema", "json_object"] = "json_schema"
    on_invalid: Literal["fail", "skip", "keep"] = "fail"
    max_repair_attempts: int = Field(default=2, ge=0, le=10)
    max_concurrency: int = Field(default=4, ge=1, le=64)
    batch_size: int = Field(
        default=1,
        ge=1,
        le=100,
        description="Records per request: >1 numbers that many prompts in one message and asks for a 'results' array.",
    )
    output_field: str | None = Field(
        default=None, description="Put the model's object under this key; default: merge its fields into the record."
    )
    error_field: str = Field(default="_ai_error", min_length=1, description="Where on_invalid='keep' puts the error.")
    cache_path: str | None = Field(
        default=None, description="NDJSON cache of completed records, relative to the base (default under .flow_cache)."
    )
    cache: bool = True
    output_path: str | None = None
    output_format: Literal["ndjson", "json", "csv", "text"] | None = None
    fs_conn_id: str | None = None
    base_path: str | None = None
