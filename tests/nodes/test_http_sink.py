"""``http.sink`` against the real test server: batching, bounded concurrency, partial failures, idempotency keys."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_flow.core.config import validate_config
from airflow_provider_flow.core.settings import StaticSettingsProvider
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.errors import FlowError, FlowValidationError, HttpError, PartialDeliveryError
from airflow_provider_flow.http.settings import HttpSettings, RetrySettings
from airflow_provider_flow.nodes.http_sink import HttpSinkConfig, HttpSinkRuntime
from airflow_provider_flow.records.writer import write_records

FAST = RetrySettings(max_attempts=2, max_elapsed=5, initial_backoff=0.01, max_backoff=0.01, jitter=0)


def make_state(server: Any, run_id: str = "run-1", **kwargs: Any) -> ExecutionState:
    settings = HttpSettings(base_url=server.url, retry=FAST)
    return ExecutionState(
        dag_id="d", task_id="t", run_id=run_id, settings=StaticSettingsProvider(http={"api": settings}), **kwargs
    )


def run(state: ExecutionState, data: Any, **config: Any) -> Any:
    model = validate_config(HttpSinkConfig, {"http_conn_id": "api", **config})
    return HttpSinkRuntime().execute(model, data, state)


def records(n: int) -> list[dict[str, Any]]:
    return [{"id": i, "name": f"r{i}"} for i in range(n)]


def test_sends_every_record_once_in_batches(http_server) -> None:
    result = run(make_state(http_server), records(250), endpoint="/sink/a", batch_size=100, max_concurrency=3)
    assert result == {
        "accepted_records": 250,
        "batches": 3,
        "endpoint": http_server.url_for("/sink/a"),
        "method": "POST",
    }
    batches = http_server.sink_batches("a")
    assert sorted(len(b.records) for b in batches) == [50, 100, 100]
    assert sorted(r["id"] for b in batches for r in b.records) == list(range(250))
    assert all(b.headers["content-type"] == "application/json" for b in batches)


def test_concurrency_is_bounded(http_server) -> None:
    active = peak = 0
    lock = threading.Lock()

    def slow(req: Any) -> tuple[int, dict[str, str], bytes]:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.1)
        with lock:
            active -= 1
        return 200, {}, b"{}"

    http_server.add_route("/slowsink", slow)
    run(make_state(http_server), records(40), endpoint="/slowsink", batch_size=2, max_concurrency=3)
    assert peak == 3  # used the concurrency, never more


def test_failure_after_accepted_batches_reports_exactly_what_was_sent(http_server) -> None:
    http_server.fail_sink("p", ids={250}, status=500)  # batch 2 (records 200-299) always fails
    with pytest.raises(PartialDeliveryError) as info:
        run(make_state(http_server), records(500), endpoint="/sink/p", batch_size=100, max_concurrency=1)
    err = info.value
    assert err.is_retryable  # a 500: the Airflow retry may succeed
    assert err.details["accepted_batches"] == [0, 1]
    assert err.details["accepted_record_ranges"] == [[0, 199]]
    assert err.details["accepted_records"] == 200
    assert [f["batch"] for f in err.details["failed_batches"]] == [2]
    assert err.details["failed_batches"][0]["records"] == [200, 299]
    assert err.details["not_sent_from_record"] == 300
    assert "records from 300 on" in str(err) and "0-199" in str(err)
    assert sorted(r["id"] for b in http_server.sink_batches("p") for r in b.records) == list(range(200))


def test_client_error_is_not_retryable_and_first_batch_failure_keeps_its_type(http_server) -> None:
    http_server.fail_sink("q", ids={0}, status=400)
    with pytest.raises(HttpError) as info:
        run(make_state(http_server), records(10), endpoint="/sink/q", batch_size=5, max_concurrency=1)
    assert info.value.status_code == 400 and not info.value.is_retryable
    assert info.value.details["accepted_records"] == 0
    assert http_server.hits("/sink/q") == 1  # no in-task retry of a 400, no second batch started
    json.dumps(info.value.to_dict())  # its report is plain JSON (no cycle through its own details)


def test_idempotency_keys_are_stable_per_run_and_content(http_server) -> None:
    http_server.fail_sink("i", ids={7}, status=503, times=2)  # batch 1 fails both in-task attempts
    with pytest.raises(PartialDeliveryError):
        run(make_state(http_server), records(10), endpoint="/sink/i", batch_size=5, idempotency_key_header="Idem-Key")
    first = {b.records[0]["id"]: b.headers["idem-key"] for b in http_server.sink_batches("i")}
    run(make_state(http_server), records(10), endpoint="/sink/i", batch_size=5, idempotency_key_header="Idem-Key")
    second = [(b.records[0]["id"], b.headers["idem-key"]) for b in http_server.sink_batches("i")][len(first) :]
    assert dict(second)[0] == first[0]  # the rerun re-sent batch 0 with the same key
    assert len({k for _, k in second}) == 2
    http_server.reset()
    run(make_state(http_server, run_id="run-2"), records(5), endpoint="/sink/i", idempotency_key_header="Idem-Key")
    assert http_server.sink_batches("i")[0].headers["idem-key"] != first[0]  # another run, another key


def test_batch_key_and_method(http_server) -> None:
    result = run(make_state(http_server), records(3), endpoint="/sink/w", method="PUT", batch_key="records")
    assert result["accepted_records"] == 3
    [batch] = http_server.sink_batches("w")
    assert batch.method == "PUT"
    assert http_server.requests[0].json() == {"records": records(3)}


def test_reads_a_file_reference_from_an_upstream_task(http_server, tmp_path: Path) -> None:
    ref = write_records(str(tmp_path), "in.ndjson", records(120), format="ndjson", base_path=str(tmp_path))
    result = run(make_state(http_server), ref.model_dump(), endpoint="/sink/f", batch_size=50)
    assert result["accepted_records"] == 120 and result["batches"] == 3


def test_empty_input_sends_nothing(http_server) -> None:
    assert run(make_state(http_server), None, endpoint="/sink/e")["accepted_records"] == 0
    assert http_server.hits("/sink/e") == 0


def test_unserializable_record_is_a_validation_error_naming_the_records(http_server) -> None:
    with pytest.raises(FlowValidationError, match="between 0 and 1"):
        run(make_state(http_server), [{"id": 1}, {"bad": float("nan")}], endpoint="/sink/n")


def test_partial_delivery_error_pickles_with_its_report(http_server) -> None:
    import pickle

    http_server.fail_sink("k", ids={3}, status=429)
    with pytest.raises(PartialDeliveryError) as info:
        run(make_state(http_server), records(4), endpoint="/sink/k", batch_size=2, max_concurrency=1)
    clone = pickle.loads(pickle.dumps(info.value))
    assert clone.is_retryable and clone.details["accepted_batches"] == [0] and clone.code == "partial_delivery"
    json.dumps(clone.to_dict())


def test_a_2xx_batch_is_accepted_once_even_if_its_reply_is_huge_or_cut(http_server) -> None:
    http_server.add_route("/bigreply", lambda req: (200, {}, b"[" + b" " * (3 * 1024 * 1024) + b"]"))
    result = run(make_state(http_server), records(4), endpoint="/bigreply", batch_size=2)
    assert result["accepted_records"] == 4 and http_server.hits("/bigreply") == 2
    # 200 with half of the announced body, then the socket closes: the API took the batch, so no resend.
    result = run(make_state(http_server), records(4), endpoint="/drop?size=200000", batch_size=2, max_concurrency=1)
    assert result["accepted_records"] == 4 and http_server.hits("/drop") == 2


def test_no_batch_starts_once_a_failure_is_known(http_server) -> None:
    http_server.fail_sink("s", ids={0}, status=400)

    def slow_input() -> Any:
        for record in records(6):
            yield record
            time.sleep(0.3)  # batch 0 (one record) has failed long before batch 1 is ready

    with pytest.raises(HttpError):
        run(make_state(http_server), slow_input(), endpoint="/sink/s", batch_size=1, max_concurrency=4)
    assert http_server.hits("/sink/s") == 1


def test_a_redirect_that_would_drop_the_body_is_a_failure_not_an_acceptance(http_server) -> None:
    http_server.add_route("/moved", lambda req: (301, {"Location": "/echo"}, b""))
    with pytest.raises(FlowError, match="resend the request as a GET without its body") as info:
        run(make_state(http_server), records(3), endpoint="/moved")
    assert not info.value.is_retryable and info.value.details["accepted_records"] == 0
    assert http_server.hits("/echo") == 0
    http_server.add_route("/moved-put", lambda req: (301, {"Location": "/sink/put"}, b""))  # PUT keeps its body
    assert run(make_state(http_server), records(3), endpoint="/moved-put", method="PUT")["accepted_records"] == 3
    assert [len(b.records) for b in http_server.sink_batches("put")] == [3]


def test_idempotency_keys_differ_per_mapped_instance_and_batch_but_not_per_try() -> None:
    from airflow_provider_flow.core.state import ExecutionState
    from airflow_provider_flow.nodes.http_sink import idempotency_key

    payload = b'[{"id": 1}]'
    first_try = ExecutionState(dag_id="d", task_id="t", run_id="r", map_index=0, try_number=1)
    retry = ExecutionState(dag_id="d", task_id="t", run_id="r", map_index=0, try_number=2)
    other_instance = ExecutionState(dag_id="d", task_id="t", run_id="r", map_index=1)
    assert idempotency_key(first_try, 0, payload) == idempotency_key(retry, 0, payload)
    assert idempotency_key(first_try, 0, payload) != idempotency_key(other_instance, 0, payload)
    assert idempotency_key(first_try, 0, payload) != idempotency_key(first_try, 1, payload)
