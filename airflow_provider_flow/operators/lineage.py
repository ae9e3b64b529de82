"""OpenLineage for every flow operator: the provider's ``get_openlineage_facets_on_start/complete`` methods.

The OpenLineage provider is optional: nothing of it is imported until the listener calls these methods, so an
installation without it pays nothing. What is reported is computed by :mod:`airflow_provider_flow.lineage`
(no Airflow there); this module only turns those values into OpenLineage objects. ``execute`` hands its result
to :meth:`FlowLineageMixin.remember_for_lineage`, so the COMPLETE event names the files actually written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_flow.lineage import LineageDataset, NodeLineage


class FlowLineageMixin:
    """Mixed into ``FlowNodeOperator``; needs its ``runtime``, ``config``, ``data`` and ``runtime_registry``."""

    _lineage_result: Any = None
    _lineage_done: bool = False

    def remember_for_lineage(self, output: Any) -> None:
        """Keep the runtime's output (a file reference, records) for the COMPLETE event."""
        self._lineage_result = output
        self._lineage_done = True

    def get_openlineage_facets_on_start(self) -> Any:
        self._lineage_result, self._lineage_done = None, False  # a new try reports nothing of an older one
        return _operator_lineage(self._flow_lineage(None))

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        return _operator_lineage(self._flow_lineage(self._lineage_result if self._lineage_done else None))

    def _flow_lineage(self, output: Any) -> NodeLineage:
        from airflow_provider_flow.core.config import validate_config
        from airflow_provider_flow.core.runtime import RuntimeResult
        from airflow_provider_flow.hooks.connections import known_secrets
        from airflow_provider_flow.hooks.settings import AirflowSettingsProvider
        from airflow_provider_flow.lineage import node_lineage

        me: Any = self
        runtime = me.runtime_registry.get(me.runtime)
        config = validate_config(runtime.config_model, me.config)
        if isinstance(output, RuntimeResult):
            output = output.value
        secrets = [*known_secrets(), *_sensitive(me.config)]
        return node_lineage(me.runtime, config, me.data, output, AirflowSettingsProvider(), secrets)


def _sensitive(config: Any) -> list[str]:
    """Values of the node headers its ``sensitive_headers`` names (as ``base.sensitive_header_values``)."""
    if not isinstance(config, dict):
        return []
    headers, names = config.get("headers"), config.get("sensitive_headers")
    if not isinstance(headers, dict) or not isinstance(names, (list, tuple)):
        return []
    wanted = {str(name).lower() for name in names}
    return [str(value) for name, value in headers.items() if str(name).lower() in wanted and value]


def _operator_lineage(lineage: NodeLineage) -> Any:
    from airflow_provider_flow.airflow_compat import operator_lineage_class

    inputs, outputs = [_dataset(d) for d in lineage.inputs], [_dataset(d) for d in lineage.outputs]
    return operator_lineage_class()(inputs=inputs, outputs=outputs)


def _dataset(dataset: LineageDataset) -> Any:
    from openlineage.client.event_v2 import Dataset
    from openlineage.client.facet_v2 import column_lineage_dataset as cl
    from openlineage.client.facet_v2 import schema_dataset

    facets: dict[str, Any] = {}
    if dataset.schema:
        facets["schema"] = schema_dataset.SchemaDatasetFacet(fields=[_field(f) for f in dataset.schema])
    if dataset.columns:
        facets["columnLineage"] = cl.ColumnLineageDatasetFacet(
            fields={
                name: cl.Fields(
                    inputFields=[
                        cl.InputField(
                            namespace=s.namespace,
                            name=s.name,
                            field=s.field,
                            transformations=[
                                cl.Transformation(type="DIRECT", subtype=s.subtype, description=s.description)
                            ],
                        )
                        for s in sources
                    ],
                )
                for name, sources in dataset.columns.items()
            }
        )
    return Dataset(namespace=dataset.namespace, name=dataset.name, facets=facets)


def _field(field: Any) -> Any:
    from openlineage.client.facet_v2 import schema_dataset

    return schema_dataset.SchemaDatasetFacetFields(
        name=field.name, type=field.type, fields=[_field(f) for f in field.fields]
    )
