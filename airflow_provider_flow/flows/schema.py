"""The JSON Schema of a flow file, with each node's ``config`` described by its runtime's own config model.

``FlowSpec`` alone knows ``config`` only as an object: an editor could complete ``runtime`` and ``upstream`` but
not ``disposition`` or ``records_path``. Here every registered runtime adds an ``if runtime == name then config
is <its model's schema>`` rule, so editors (the YAML language server) complete and check a node's keys, their
descriptions and allowed values (e.g. ``disposition: replace | append | merge``) while the file is written.

Templates: any value in ``config`` may be a Jinja string rendered at run time (``"{{ params.limit }}"`` where an
integer goes), so every config property also accepts a string holding ``{{`` or ``{%``. Nested values keep their
own types; ``python -m airflow_provider_flow validate`` stays the full check (it renders nothing and accepts
templates wherever the runtime does).
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import CoreSchema

from airflow_provider_flow.core.registry import RuntimeRegistry
from airflow_provider_flow.flows.spec import FlowSpec

#: A string holding a Jinja expression or statement: rendered by Airflow before the config is validated.
TEMPLATE_STRING: dict[str, Any] = {
    "type": "string",
    "pattern": r"\{\{|\{%",
    "description": "A Jinja template rendered at run time.",
}


class _FileSchema(GenerateJsonSchema):
    """A field a flow file cannot write (a Python callable some runtime accepts from a DAG file) becomes "any"
    instead of failing the whole schema; the runtime's validation still refuses what it cannot take."""

    def handle_invalid_for_json_schema(self, schema: CoreSchema, error_info: str) -> JsonSchemaValue:
        return {}


def _config_schema(model_schema: dict[str, Any], defs: dict[str, Any], prefix: str) -> dict[str, Any]:
    """A runtime's config schema with its ``$defs`` hoisted (renamed per runtime) and templates allowed."""
    renamed = {name: f"{prefix}{name}" for name in model_schema.get("$defs", {})}

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            out = {key: rewrite(value) for key, value in node.items() if key != "$defs"}
            ref = out.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                out["$ref"] = f"#/$defs/{renamed[ref.removeprefix('#/$defs/')]}"
            return out
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        return node

    for name, schema in model_schema.get("$defs", {}).items():
        defs[renamed[name]] = rewrite(schema)
    config = rewrite(model_schema)
    properties = config.get("properties", {})
    for key, prop in properties.items():
        described = {k: prop[k] for k in ("title", "description", "default") if k in prop}
        typed = {k: v for k, v in prop.items() if k not in described}
        properties[key] = {**described, "anyOf": [typed, TEMPLATE_STRING]} if typed else prop
    return config


def flow_json_schema(registry: RuntimeRegistry) -> dict[str, Any]:
    """``FlowSpec``'s schema plus, per registered runtime, the schema of a node's ``config`` under that runtime."""
    schema = FlowSpec.model_json_schema()
    defs: dict[str, Any] = schema.setdefault("$defs", {})
    node = defs["FlowNode"]
    rules = []
    for name in registry.list():
        model = registry.get(name).config_model
        prefix = "".join(part.capitalize() for part in name.replace("_", ".").split(".")) + "_"
        config = _config_schema(model.model_json_schema(by_alias=True, schema_generator=_FileSchema), defs, prefix)
        rules.append({"if": {"properties": {"runtime": {"const": name}}}, "then": {"properties": {"config": config}}})
    node["properties"]["runtime"]["examples"] = list(registry.list())
    node["allOf"] = rules
    return schema
