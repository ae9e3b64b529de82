"""The incremental http.source runtime against a real HTTP server: what it asks, keeps and proposes, and how bad
cursor values fail (naming the field, the value and the fix). No Airflow here: the operator's part (reading the
committed watermark) is ``ExecutionState.committed_watermark``, set directly."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_flow.core.config import validate_config
from airflow_provider_flow.core.runtime import RuntimeResult
from airflow_provider_flow.core.settings import StaticSettingsProvider
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.http.settings import HttpSettings
from airflow_provider_flow.nodes.http_source import HttpSourceConfig, HttpSourceRuntime
from tests.fixtures.http_server import FlowHttpServer


def serve(server: FlowHttpServer, path: str, records: list[Any]) -> None:
    server.add_route(path, lambda req: (200, {"Content-Type": "application/json"}, json.dumps(records).encode()))


def fetch(server: FlowHttpServer, path: str, committed: Any = None, **incremental: Any) -> RuntimeResult:
    state = ExecutionState(
        settings=StaticSettingsProvider(http={"api": HttpSettings(base_url=server.url)}), committed_watermark=committed
    )
    config = validate_config(
        HttpSourceConfig, {"http_conn_id": "api", "endpoint": path, "incremental": {"cursor": "t", **incremental}}
    )
    result = HttpSourceRuntime().execute(config, None, state)
    assert isinstance(result, RuntimeResult)
    return result


def refused(server: FlowHttpServer, path: str, committed: Any = None, **incremental: Any) -> FlowValidationError:
    with pytest.raises(FlowValidationError) as info:
        fetch(server, path, committed, **incremental)
    return info.value


def test_asks_since_the_watermark_minus_lag_and_proposes_the_highest_cursor(
    http_server: FlowHttpServer, caplog: pytest.LogCaptureFixture
) -> None:
    serve(http_server, "/changes", [{"t": "2026-01-01T10:00:00Z"}, {"t": "2026-01-01T12:00:00+01:00"}])
    caplog.set_level("INFO")
    result = fetch(http_server, "/changes", "2026-01-01T09:00:00Z", param="since", lag=90)
    assert http_server.requests[-1].query == {"since": "2026-01-01T08:58:30Z"}
    assert "fetching since 2026-01-01T08:58:30Z (committed watermark 2026-01-01T09:00:00Z, minus lag 90)" in (
        caplog.text
    )
    outcome = result.extra_xcom["flow_watermark"]
    # 12:00+01:00 is 11:00Z: later than 10:00Z although it sorts first as text
    assert outcome["candidate"] == "2026-01-01T12:00:00+01:00"
    assert outcome["previous"] == "2026-01-01T09:00:00Z" and outcome["records"] == 2
    assert result.value == [{"t": "2026-01-01T10:00:00Z"}, {"t": "2026-01-01T12:00:00+01:00"}]


def test_nothing_newer_keeps_the_watermark(http_server: FlowHttpServer) -> None:
    serve(http_server, "/same", [{"t": 5}, {"t": 3}])
    outcome = fetch(http_server, "/same", 5, param="after", lag=2).extra_xcom["flow_watermark"]
    assert http_server.requests[-1].query == {"after": "3"}  # a number cursor moves back by units
    assert outcome["candidate"] is None and outcome["records"] == 2


def test_first_run_starts_at_initial_value_and_a_full_refresh_ignores_the_watermark(
    http_server: FlowHttpServer,
) -> None:
    serve(http_server, "/numbers", [{"t": 1}, {"t": 7}])
    assert (
        fetch(http_server, "/numbers", None, param="from", initial_value=0).extra_xcom["flow_watermark"]["candidate"]
        == 7
    )
    assert http_server.requests[-1].query == {"from": "0"}
    outcome = fetch(http_server, "/numbers", 50, param="from", initial_value=0, full_refresh=True).extra_xcom[
        "flow_watermark"
    ]
    assert http_server.requests[-1].query == {"from": "0"}
    assert outcome["candidate"] == 7 and outcome["full_refresh"] is True  # lower than 50: a refresh may go back


def test_end_value_is_a_window_that_never_touches_the_watermark(http_server: FlowHttpServer) -> None:
    serve(http_server, "/window", [{"t": 10}, {"t": 19}, {"t": 20}, {"t": 25}])
    result = fetch(http_server, "/window", 999, param="from", end_param="to", initial_value=10, end_value=20)
    assert http_server.requests[-1].query == {"from": "10", "to": "20"}  # the stored 999 is not used
    assert result.value == [{"t": 10}, {"t": 19}]
    outcome = result.extra_xcom["flow_watermark"]
    assert outcome["candidate"] is None and outcome["window"] is True and outcome["dropped_after_end_value"] == 2


def test_a_record_without_the_cursor_names_it_and_the_fix(http_server: FlowHttpServer) -> None:
    serve(http_server, "/holes", [{"t": 1}, {"id": 2, "name": "x"}])
    err = refused(http_server, "/holes")
    assert err.field == "incremental.cursor"
    assert "record 1 has no value at cursor 't' (its keys: ['id', 'name'])" in str(err)
    assert "fix cursor" in str(err)


@pytest.mark.parametrize(
    ("records", "committed", "expected"),
    [
        (
            [{"t": 1}, {"t": "2026-01-01T00:00:00Z"}],
            None,
            "cannot compare datetime '2026-01-01T00:00:00Z' with number 1",
        ),
        ([{"t": "2026-01-01T00:00:00Z"}], 17, "cannot compare datetime '2026-01-01T00:00:00Z' with number 17"),
        ([{"t": True}], None, "must be a number or a string"),
        ([{"t": {"nested": 1}}], None, "got a dict"),
    ],
)
def test_values_that_cannot_be_ordered_are_refused(
    http_server: FlowHttpServer, records: list[Any], committed: Any, expected: str
) -> None:
    serve(http_server, "/bad", records)
    err = refused(http_server, "/bad", committed)
    assert expected in str(err) and (err.field or "").startswith(("incremental.cursor", "stored watermark"))


def test_lag_on_a_plain_string_cursor_is_refused_with_the_fix(http_server: FlowHttpServer) -> None:
    serve(http_server, "/ids", [{"t": "b-2"}])
    err = refused(http_server, "/ids", "a-1", param="after", lag=10)
    assert err.field == "incremental.lag" and "set lag to 0" in str(err)
    assert not http_server.hits("/ids")  # refused before any request


def test_config_mistakes_are_refused_before_running() -> None:
    with pytest.raises(FlowValidationError, match="end_param needs end_value"):
        validate_config(HttpSourceConfig, {"endpoint": "/x", "incremental": {"cursor": "t", "end_param": "to"}})
    with pytest.raises(FlowValidationError, match=r"incremental\.cursor"):
        validate_config(HttpSourceConfig, {"endpoint": "/x", "incremental": {"cursor": "t[", "param": "p"}})
    with pytest.raises(FlowValidationError, match="lag"):
        validate_config(HttpSourceConfig, {"endpoint": "/x", "incremental": {"cursor": "t", "lag": -1}})
