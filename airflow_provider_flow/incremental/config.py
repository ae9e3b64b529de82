"""The ``incremental`` block of a source's config (``http.source``), and of a flow file's node."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator

from airflow_provider_flow.core.config import ConfigModel
from airflow_provider_flow.expressions import JmesPath
from airflow_provider_flow.incremental.cursor import CursorValue, cursor_value


def _templated(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


#: A cursor value as a config can give it: a number or a string (an ISO 8601 date-time, or any ordered string).
#: Numbers are bounded to what JSON and the metadata DB carry exactly (64-bit ints, finite floats).
CursorLiteral = (
    Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
    | Annotated[float, Field(ge=-1e300, le=1e300, allow_inf_nan=False)]
    | Annotated[str, Field(min_length=1, max_length=1000)]
)
#: The largest ``lag``: about 30 years in seconds (and as many units of a number cursor).
MAX_LAG = 1e9


class IncrementalConfig(ConfigModel):
    """Fetch only records changed since the last committed watermark (see the README's "Incremental loading")."""

    cursor: JmesPath = Field(
        description="JMESPath to each record's cursor (e.g. 'updated_at' or 'meta.version'): a number or an ISO "
        "8601 date-time that grows when a record changes."
    )
    param: str | None = Field(
        None,
        min_length=1,
        description="Query parameter that carries the value to fetch from (watermark minus lag), e.g. "
        "'updated_since'; omit it when the API cannot filter (records are still tracked).",
    )
    initial_value: CursorLiteral | None = Field(
        None, description="Where the first run (and a full refresh) starts; default: everything (no parameter sent)."
    )
    lag: float = Field(
        0,
        ge=0,
        le=MAX_LAG,
        description="Re-read this much before the watermark to catch late records: seconds for a date-time "
        "cursor, units for a number cursor.",
    )
    end_value: CursorLiteral | None = Field(
        None,
        description="Fetch a fixed window [initial_value, end_value) instead (a backfill): records at or after it "
        "are dropped, and the committed watermark is neither read nor moved.",
    )
    end_param: str | None = Field(
        None, min_length=1, description="Query parameter that carries end_value, when the API can bound the window."
    )
    full_refresh: bool = Field(
        False,
        description="Start over from initial_value and replace the committed watermark, even with a lower one "
        "(templated, e.g. '{{ params.full_refresh }}').",
    )

    @field_validator("initial_value", "end_value")
    @classmethod
    def _a_cursor_value(cls, value: Any, info: Any) -> Any:
        if value is not None and not _templated(value):
            cursor_value(value, field=f"incremental.{info.field_name}")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> IncrementalConfig:
        if _templated(self.initial_value) or _templated(self.end_value):
            return self  # checked again once Airflow rendered them (flow files are validated before rendering)
        start = None if self.initial_value is None else cursor_value(self.initial_value, field="initial_value")
        end = None if self.end_value is None else cursor_value(self.end_value, field="end_value")
        if start is not None and self.lag:
            start.shifted_back(self.lag, field="incremental.lag")  # a lag on a plain string cursor fails here
        if end is not None and start is not None:
            start.check_comparable(end, field="incremental.end_value")
            if not start.key < end.key:
                raise ValueError(
                    f"end_value {self.end_value!r} is not after initial_value {self.initial_value!r}; "
                    "give a window whose end is later than its start"
                )
        if self.end_param is not None and self.end_value is None:
            raise ValueError("end_param needs end_value (the value it carries); set end_value or drop end_param")
        return self

    def start_value(self) -> CursorValue | None:
        return None if self.initial_value is None else cursor_value(self.initial_value, field="initial_value")
