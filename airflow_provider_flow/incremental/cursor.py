"""Cursor values: what may be a watermark, how two are compared, and how ``lag`` moves one back.

Three kinds exist, decided by the value itself:

* ``number``: an int or a float (booleans are refused: ``true < false`` is no ordering anyone means);
* ``datetime``: a string that parses as ISO 8601 (``2026-01-02T03:04:05Z``, with or without an offset; one
  without an offset is taken as UTC), compared as instants, so ``+01:00`` and ``Z`` values order correctly;
* ``string``: any other string, compared as text (e.g. zero-padded ids).

Values of different kinds cannot be compared; the error names the field, both values and the fix. The original
value is what is stored and sent (a record's own text), never a re-formatted one, except after a ``lag``, which
writes the shifted date-time in the same style (``Z`` stays ``Z``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from airflow_provider_flow.errors import FlowValidationError

CursorKind = Literal["number", "datetime", "string"]


@dataclass(frozen=True)
class CursorValue:
    """One cursor value: ``raw`` as found (stored and sent), ``key`` to compare with others of the same ``kind``."""

    raw: Any
    kind: CursorKind
    key: Any

    def check_comparable(self, other: CursorValue, *, field: str) -> None:
        if self.kind != other.kind:
            raise FlowValidationError(
                f"cannot compare {other.kind} {other.raw!r} with {self.kind} {self.raw!r}; the cursor must have the "
                "same type on every record and in initial_value/end_value/the stored watermark (a full_refresh "
                "starts over when the API changed the cursor's type)",
                field=field,
                value=other.raw,
            )

    def shifted_back(self, lag: float, *, field: str) -> CursorValue:
        """This value minus ``lag`` (seconds for a date-time, units for a number)."""
        if not lag:
            return self
        if self.kind == "number":
            shifted = self.raw - lag
            if isinstance(self.raw, int) and float(lag).is_integer():
                shifted = int(shifted)
            return CursorValue(shifted, "number", shifted)
        if self.kind == "datetime":
            moved = self.key - timedelta(seconds=lag)
            text = moved.isoformat()
            if str(self.raw).endswith(("Z", "z")) and text.endswith("+00:00"):
                text = text[: -len("+00:00")] + "Z"
            return CursorValue(text, "datetime", moved)
        raise FlowValidationError(
            f"lag={lag} needs a number or ISO 8601 date-time cursor, but the cursor value {self.raw!r} is a plain "
            "string, which cannot be moved back; set lag to 0 or point cursor at a number or date-time field",
            field=field,
            value=lag,
        )


def _as_datetime(text: str) -> datetime | None:
    if len(text) < 10 or not text[:4].isdigit() or text[4] != "-":
        return None  # fast refusal of ids and words before fromisoformat
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)


def quick_key(raw: Any) -> tuple[CursorKind, Any] | None:
    """``(kind, key)`` of a valid cursor value, or None (then :func:`cursor_value` says what is wrong).

    The per-record path: no object per record, so tracking costs little next to parsing the record.
    """
    kind = type(raw)
    if kind is str:
        moment = _as_datetime(raw)
        return ("datetime", moment) if moment is not None else ("string", raw)
    if kind is int or (kind is float and raw == raw):
        return "number", raw
    return None


def cursor_value(raw: Any, *, field: str) -> CursorValue:
    """Classify ``raw`` as a cursor value, or fail naming ``field`` and what the value is instead."""
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        shown = "missing (null)" if raw is None else f"a {type(raw).__name__} ({str(raw)[:80]!r})"
        raise FlowValidationError(
            f"a cursor value must be a number or a string (ISO 8601 date-time or ordered text), got {shown}; "
            "point cursor at a field holding one",
            field=field,
            value=raw if raw is None or isinstance(raw, (bool, int, float, str)) else str(raw)[:80],
        )
    if isinstance(raw, float) and raw != raw:
        raise FlowValidationError("NaN is not an ordered cursor value", field=field, value=str(raw))
    if isinstance(raw, str):
        moment = _as_datetime(raw)
        if moment is not None:
            return CursorValue(raw, "datetime", moment)
        return CursorValue(raw, "string", raw)
    return CursorValue(raw, "number", raw)
