"""What a node reads and writes, as OpenLineage would name it, computed without Airflow or OpenLineage.

The operators turn these plain values into OpenLineage objects (``operators/lineage.py``) only when the
OpenLineage provider asks for them; everything here is testable without either installed, and keeps the rules in
one place: how an HTTP endpoint, a file and an object are named (:mod:`.naming`), what schema the written records
show (:mod:`.schema`), which output field comes from which input field (:mod:`.columns`), and what each runtime
reads and writes (:mod:`.plan`).
"""

from __future__ import annotations

from airflow_provider_flow.lineage.model import FieldSource, LineageDataset, NodeLineage, SchemaField
from airflow_provider_flow.lineage.plan import node_lineage

__all__ = ["FieldSource", "LineageDataset", "NodeLineage", "SchemaField", "node_lineage"]
