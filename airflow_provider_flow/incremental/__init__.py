"""Incremental loading: fetch only what changed since the last run, and move the watermark only when it is safe.

A source with ``incremental={cursor, param, initial_value, lag, end_value, full_refresh}`` asks the API only for
records whose cursor (a JMESPath on each record, e.g. ``updated_at``) is at or after the *committed watermark*
minus ``lag``, and reports the highest cursor it saw as the *candidate* watermark (next to its output, in the
``flow_watermark`` XCom). The candidate becomes the committed watermark only when a commit step after the
pipeline's sinks runs, that is after every sink published; a failed sink leaves the old watermark, so the next
run fetches the same window again (duplicates bounded by the window, never a gap).

This package is plain Python (no Airflow): :mod:`.config` is the config model, :mod:`.cursor` compares and shifts
cursor values, :mod:`.tracker` follows one run. Where the watermark is stored (Airflow's asset state store, or
asset event extras before Airflow 3.3) is the operators' business (``operators/incremental.py``).
"""

from __future__ import annotations

from airflow_provider_flow.incremental.config import IncrementalConfig
from airflow_provider_flow.incremental.tracker import WATERMARK_XCOM_KEY, WatermarkTracker

__all__ = ["WATERMARK_XCOM_KEY", "IncrementalConfig", "WatermarkTracker"]
