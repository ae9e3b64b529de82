"""How many records a node's input holds, when that is known before reading it: the total of a progress estimate.

A file reference carries its record count, a list of references the sum, inline records their length, and an
:func:`~airflow_provider_flow.records.input.upstream_outputs` envelope the sum of its outputs. A generator from a
Python caller has no known length (None). Malformed input also gives None here: :func:`input_records` is the
one place that rejects it, with the message naming the field.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.records.input import UPSTREAMS_KIND
from airflow_provider_flow.records.reference import as_reference


def expected_records(data: Any) -> int | None:
    """The number of records :func:`~airflow_provider_flow.records.input.input_records` will yield, or None."""
    try:
        return _count(data)
    except FlowValidationError:
        return None


def _count(data: Any) -> int | None:
    if data is None:
        return 0
    if isinstance(data, dict) and data.get("kind") == UPSTREAMS_KIND and isinstance(data.get("outputs"), dict):
        counts = [_count(output) for output in data["outputs"].values()]
        return None if None in counts else sum(c for c in counts if c is not None)
    ref = as_reference(data)
    if ref is not None:
        return ref.records
    if isinstance(data, (list, tuple)):
        if not data or as_reference(data[0]) is None:  # records (a mix is refused by input_records): no look at each
            return len(data)
        refs = [as_reference(item) for item in data]
        if all(r is not None for r in refs):
            return sum(r.records for r in refs if r is not None)
        return len(data)
    if isinstance(data, dict):
        return 1
    return None
