"""Connection forms of the provider's connection types, as plain data (no imports: provider info reads it).

One definition feeds both ways Airflow builds a connection form:

* Airflow 3.2+ reads the declarative ``conn-fields`` / ``ui-field-behaviour`` keys of ``get_provider_info()``
  without importing the hooks (:func:`provider_conn_fields`, :func:`provider_ui_field_behaviour`).
* Airflow 3.1 ignores those keys and imports the hook classes instead, calling ``get_ui_field_behaviour()`` and
  ``get_connection_form_widgets()`` (with wtforms mocked by the API server); :func:`legacy_widgets` builds those
  widgets from the same data, so both versions show the same labels, descriptions, drop-downs and masked secrets.

Extra fields are stored unprefixed in the connection's extra JSON, which is exactly what the hooks read. The React
UI has no placeholder for extra fields: a field's ``examples`` become its suggestion list instead.
"""

from __future__ import annotations

from typing import Any

#: Per extra field: label, description, JSON schema (``format: password`` masks it and marks it sensitive).
FieldDef = dict[str, Any]

_STR = ["string", "null"]
_NUM = ["number", "null"]
_INT = ["integer", "null"]
_BOOL = ["boolean", "null"]

FLOW_HTTP_FIELDS: dict[str, FieldDef] = {
    "auth_type": {
        "label": "Auth type",
        "description": "none, basic (login/password), bearer (token below, or the password) or "
        "oauth2_client_credentials (token URL + client id/secret below).",
        "schema": {"type": _STR, "enum": ["none", "basic", "bearer", "oauth2_client_credentials"]},
    },
    "bearer_token": {
        "label": "Bearer token",
        "description": "Sent as 'Authorization: Bearer ...' when auth type is bearer (masked in logs).",
        "schema": {"type": _STR, "format": "password"},
    },
    "token_url": {
        "label": "OAuth2 token URL",
        "description": "Token endpoint for oauth2_client_credentials.",
        "schema": {"type": _STR, "examples": ["https://auth.example.com/oauth2/token"]},
    },
    "client_id": {
        "label": "OAuth2 client ID",
        "description": "Client id for oauth2_client_credentials.",
        "schema": {"type": _STR},
    },
    "client_secret": {
        "label": "OAuth2 client secret",
        "description": "Client secret for oauth2_client_credentials (masked in logs).",
        "schema": {"type": _STR, "format": "password"},
    },
    "token_auth_method": {
        "label": "Token auth method",
        "description": "How the client authenticates to the token URL: client_secret_post (form body) or "
        "client_secret_basic (HTTP basic).",
        "schema": {"type": _STR, "enum": ["client_secret_post", "client_secret_basic"]},
    },
    "scopes": {
        "label": "OAuth2 scopes",
        "description": "Space-separated scopes requested with the token.",
        "schema": {"type": _STR, "examples": ["read write"]},
    },
    "audience": {
        "label": "OAuth2 audience",
        "description": "Audience requested with the token (some identity providers need it).",
        "schema": {"type": _STR},
    },
    "timeout": {
        "label": "Timeout (s)",
        "description": "Seconds for every phase of a request (connect/read/write/pool).",
        "schema": {"type": _NUM, "minimum": 0},
    },
    "total_timeout": {
        "label": "Total timeout (s)",
        "description": "Overall seconds for one request including its body (a trickling server stops here).",
        "schema": {"type": _NUM, "minimum": 0},
    },
    "verify": {
        "label": "Verify TLS",
        "description": "Uncheck only for a test server with a self-signed certificate.",
        "schema": {"type": _BOOL},
    },
    "max_retries": {
        "label": "Max attempts",
        "description": "In-task attempts per request (1 = no in-task retry; default 4).",
        "schema": {"type": _INT, "minimum": 1},
    },
    "follow_redirects": {
        "label": "Follow redirects",
        "description": "Follow HTTP redirects (default yes).",
        "schema": {"type": _BOOL},
    },
}

FLOW_HTTP_BEHAVIOUR: dict[str, Any] = {
    "hidden_fields": [],
    "relabeling": {"host": "Base URL", "schema": "Scheme", "login": "Login (basic auth)"},
    "placeholders": {
        "host": "https://api.example.com/v1",
        "schema": "https (used when the Base URL has no scheme)",
        "port": "443 (optional)",
        "login": "user for basic auth (optional)",
        "password": "password for basic auth, or the bearer token",
        "extra": '{"X-Api-Version": "2"}  (other keys become request headers)',
    },
}

FLOW_LLM_FIELDS: dict[str, FieldDef] = {
    "OpenAI-Organization": {
        "label": "Organization",
        "description": "Sent as the OpenAI-Organization header (OpenAI only; leave empty elsewhere).",
        "schema": {"type": _STR, "examples": ["org-..."]},
    },
    "timeout": {
        "label": "Timeout (s)",
        "description": "Seconds for every phase of a request; without it the read timeout is 120 s.",
        "schema": {"type": _NUM, "minimum": 0},
    },
    "total_timeout": {
        "label": "Total timeout (s)",
        "description": "Overall seconds for one call including the reply.",
        "schema": {"type": _NUM, "minimum": 0},
    },
    "verify": {
        "label": "Verify TLS",
        "description": "Uncheck only for a local server with a self-signed certificate.",
        "schema": {"type": _BOOL},
    },
    "max_retries": {
        "label": "Max attempts",
        "description": "In-task attempts per call (1 = no in-task retry; default 4).",
        "schema": {"type": _INT, "minimum": 1},
    },
}

FLOW_LLM_BEHAVIOUR: dict[str, Any] = {
    "hidden_fields": ["login", "schema", "port"],
    "relabeling": {"host": "Base URL", "password": "API key"},
    "placeholders": {
        "host": "https://api.openai.com/v1",
        "password": "sk-...",
        "extra": '{"headers": {"api-key": "..."}}',
    },
}


def provider_conn_fields(fields: dict[str, FieldDef]) -> dict[str, FieldDef]:
    """``conn-fields`` for provider info (Airflow 3.2+): a copy, so callers cannot change the definitions."""
    return {name: {**spec, "schema": dict(spec["schema"])} for name, spec in fields.items()}


def provider_ui_field_behaviour(behaviour: dict[str, Any]) -> dict[str, Any]:
    """``ui-field-behaviour`` for provider info: the same keys as ``get_ui_field_behaviour`` but kebab-case."""
    return {
        "hidden-fields": list(behaviour["hidden_fields"]),
        "relabeling": dict(behaviour["relabeling"]),
        "placeholders": dict(behaviour["placeholders"]),
    }


def legacy_widgets(fields: dict[str, FieldDef]) -> dict[str, Any]:
    """``get_connection_form_widgets()`` for Airflow 3.1: wtforms fields built from the same definitions.

    Imported lazily: the API server of 3.1 mocks wtforms/flask_appbuilder when they are not installed, and the
    workers never call this.
    """
    from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import BooleanField, IntegerField, PasswordField, StringField
    from wtforms.validators import Optional, any_of

    widgets: dict[str, Any] = {}
    for name, spec in fields.items():
        schema = spec["schema"]
        kinds = schema["type"]
        label = lazy_gettext(spec["label"])
        validators: list[Any] = [Optional()]
        if "enum" in schema:
            validators.append(any_of(list(schema["enum"])))
        if schema.get("format") == "password":
            widgets[name] = PasswordField(
                label, widget=BS3PasswordFieldWidget(), description=spec["description"], validators=validators
            )
        elif "boolean" in kinds:
            widgets[name] = BooleanField(label, description=spec["description"], validators=validators)
        elif "integer" in kinds:
            widgets[name] = IntegerField(
                label, widget=BS3TextFieldWidget(), description=spec["description"], validators=validators
            )
        else:  # numbers stay strings on 3.1 (no float field there); the hooks parse "30" and 30 alike
            widgets[name] = StringField(
                label, widget=BS3TextFieldWidget(), description=spec["description"], validators=validators
            )
    return widgets
