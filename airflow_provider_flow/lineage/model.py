"""The plain values lineage is made of: datasets with an optional schema and column sources.

Frozen dataclasses, not OpenLineage classes, so the rules that compute them run (and are tested) without the
optional OpenLineage dependency; ``operators/lineage.py`` converts them one to one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class SchemaField:
    """One field of the records: its name, its JSON type(s) (``"integer|null"``), nested fields of objects."""

    name: str
    type: str
    fields: tuple[SchemaField, ...] = ()


@dataclass(frozen=True)
class FieldSource:
    """An input field an output field is computed from (OpenLineage's ``InputField`` with one transformation).

    ``subtype`` is ``IDENTITY`` when the value is copied unchanged (pass-through, rename, a plain field
    expression) and ``TRANSFORMATION`` when an expression computes it.
    """

    namespace: str
    name: str
    field: str
    subtype: Literal["IDENTITY", "TRANSFORMATION"] = "IDENTITY"
    description: str | None = None


@dataclass(frozen=True)
class LineageDataset:
    """A dataset as OpenLineage names it; ``schema`` and ``columns`` are None when not known.

    ``columns`` maps each output field to the input fields it comes from (column lineage).
    """

    namespace: str
    name: str
    schema: tuple[SchemaField, ...] | None = None
    columns: dict[str, tuple[FieldSource, ...]] | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)


@dataclass(frozen=True)
class NodeLineage:
    """What one task read and wrote."""

    inputs: tuple[LineageDataset, ...] = ()
    outputs: tuple[LineageDataset, ...] = field(default_factory=tuple)
