"""``FlowHttpApiHook``: the provider's own ``flow_http`` connection type, "HTTP API (flow)".

Airflow's ``http`` type belongs to the HTTP provider, so its form cannot show this package's settings (auth type,
OAuth2 client credentials, timeouts, retries). ``flow_http`` carries exactly the same fields and extra keys as an
``http`` connection read by :class:`~airflow_provider_flow.hooks.http.FlowHttpHook`, with a form for them. Reading
is unchanged: the ``http`` settings kind resolves a connection by id and never looks at its type, so
``http_conn_id`` may name an ``http`` or a ``flow_http`` connection.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_flow.hooks.forms import FLOW_HTTP_BEHAVIOUR, FLOW_HTTP_FIELDS, legacy_widgets
from airflow_provider_flow.hooks.http import FlowHttpHook


class FlowHttpApiHook(FlowHttpHook):
    """``flow_http`` connections: :class:`FlowHttpHook` with its own type and form (see the module docstring)."""

    conn_type = "flow_http"
    hook_name = "HTTP API (flow)"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Airflow 3.1's form (3.2+ reads ``ui-field-behaviour`` from provider info and never calls this)."""
        return {key: value.copy() for key, value in FLOW_HTTP_BEHAVIOUR.items()}

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Airflow 3.1's extra fields (3.2+ reads ``conn-fields`` from provider info and never calls this)."""
        return legacy_widgets(FLOW_HTTP_FIELDS)
