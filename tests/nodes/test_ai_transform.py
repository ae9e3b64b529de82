"""The ai.transform runtime against a real OpenAI-compatible server on 127.0.0.1 (tests/fixtures/llm_server.py)."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, field_validator

from airflow_provider_flow.core.config import validate_config
from airflow_provider_flow.core.settings import StaticSettingsProvider
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.errors import FlowValidationError, HttpError, LlmOutputError
from airflow_provider_flow.http.settings import RetrySettings
from airflow_provider_flow.llm.settings import LLM, LlmSettings
from airflow_provider_flow.nodes.ai_transform import AiTransformConfig, AiTransformRuntime
from airflow_provider_flow.records.reference import FileReference
from tests.fixtures.llm_server import DEFAULT_REPLY_SCHEMA, FakeLlmServer

RECORDS = [{"id": str(i), "text": f"item number {i} is here"} for i in range(6)]
PROMPT = "[id:${id}] Describe: ${text}"


def _state(server: FakeLlmServer, *, api_key: str | None = None, base: Path | None = None) -> ExecutionState:
    settings = LlmSettings(
        base_url=server.base_url,
        api_key=api_key or server.api_key,
        retry=RetrySettings(max_attempts=3, max_elapsed=10, initial_backoff=0.05, max_backoff=0.2, jitter=0),
    )
    return ExecutionState(
        dag_id="d",
        task_id="t",
        settings=StaticSettingsProvider(llm={"llm_default": settings}, fs={"fs": str(base or "/nonexistent")}),
        log=logging.getLogger("test.ai_transform"),
    )


def _config(**overrides: Any) -> AiTransformConfig:
    values: dict[str, Any] = {"model": "fake-1", "prompt": PROMPT, "output_schema": DEFAULT_REPLY_SCHEMA}
    values.update(overrides)
    return validate_config(AiTransformConfig, values)


def _run_full(server: FakeLlmServer, records: Any = RECORDS, *, base: Path | None = None, **overrides: Any) -> Any:
    return AiTransformRuntime().execute(_config(**overrides), records, _state(server, base=base))


def _run(server: FakeLlmServer, records: Any = RECORDS, *, base: Path | None = None, **overrides: Any) -> Any:
    """The records (or file reference) downstream nodes read."""
    return _run_full(server, records, base=base, **overrides).value


def test_records_are_enriched_with_validated_output(llm_server: FakeLlmServer, caplog) -> None:
    caplog.set_level(logging.INFO, logger="test.ai_transform")
    result = _run_full(llm_server, temperature=0.2, max_tokens=50)
    out = result.value
    assert [r["id"] for r in out] == [r["id"] for r in RECORDS]  # input order kept
    first_prompt = "[id:0] Describe: item number 0 is here"
    assert out[0] == {"id": "0", "text": "item number 0 is here", "words": 7, "shout": first_prompt[:20].upper()}
    body = llm_server.requests[0].body
    assert body["model"] == "fake-1" and body["temperature"] == 0.2 and body["max_tokens"] == 50
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == DEFAULT_REPLY_SCHEMA
    assert len(llm_server.requests) == 6
    stats = result.extra_xcom["usage"]
    assert stats["usage"]["completions"] == 6 and stats["usage"]["total_tokens"] > 0
    assert stats["usage"]["total_tokens"] == stats["usage"]["prompt_tokens"] + stats["usage"]["completion_tokens"]
    # The one summary line says the same to a person reading the log.
    done = [r.getMessage() for r in caplog.records if r.getMessage().startswith("ai.transform fake-1 done: ")]
    assert len(done) == 1 and "6 completions" in done[0], done
    assert f"{stats['usage']['total_tokens']:,} tokens" in done[0]
    assert llm_server.api_key not in caplog.text


def test_usage_is_returned_beside_the_records(llm_server: FakeLlmServer) -> None:
    result = _run_full(llm_server, RECORDS[:2])
    assert [r["id"] for r in result.value] == ["0", "1"]
    usage = result.extra_xcom["usage"]
    assert usage["records_out"] == 2 and usage["usage"]["completions"] == 2
    assert usage["usage"]["total_tokens"] == usage["usage"]["prompt_tokens"] + usage["usage"]["completion_tokens"]


def test_output_field_nests_the_reply(llm_server: FakeLlmServer) -> None:
    out = _run(llm_server, RECORDS[:1], output_field="ai")
    assert out[0]["ai"]["id"] == "0" and "words" not in out[0]


def test_schema_violation_is_repaired_with_the_error_fed_back(llm_server: FakeLlmServer) -> None:
    llm_server.inject("2", "schema_violation")
    out = _run(llm_server)
    assert out[2]["words"] == 7 and llm_server.requests_for("2") == 2
    repair = [r for r in llm_server.requests if r.record_id == "2"][1].body["messages"]
    assert repair[-2]["role"] == "assistant" and '"many"' in repair[-2]["content"]
    assert "words: 'many' is not of type 'integer'" in repair[-1]["content"]


def test_on_invalid_fail_names_the_record_after_bounded_repairs(llm_server: FakeLlmServer) -> None:
    llm_server.inject("3", "invalid_json", times=None)
    with pytest.raises(LlmOutputError) as info:
        _run(llm_server, max_repair_attempts=2)
    assert "record 3" in str(info.value) and "not valid JSON" in str(info.value)
    assert not info.value.is_retryable
    assert llm_server.requests_for("3") == 3


def test_on_invalid_skip_and_keep(llm_server: FakeLlmServer) -> None:
    llm_server.inject("3", "invalid_json", times=None)
    skipped = _run(llm_server, on_invalid="skip", max_repair_attempts=1)
    assert [r["id"] for r in skipped] == ["0", "1", "2", "4", "5"]
    assert llm_server.requests_for("3") == 2
    kept = _run(llm_server, on_invalid="keep", max_repair_attempts=0)
    assert [r["id"] for r in kept] == ["0", "1", "2", "3", "4", "5"]
    assert "not valid JSON" in kept[3]["_ai_error"]["error"] and "oops" in kept[3]["_ai_error"]["reply_excerpt"]
    assert "words" not in kept[3]


def test_pydantic_model_validates_with_its_own_validators(llm_server: FakeLlmServer) -> None:
    class Reply(BaseModel):
        id: str
        words: int
        shout: str

        @field_validator("words")
        @classmethod
        def _at_least_six(cls, value: int) -> int:
            if value < 6:
                raise ValueError("too few words")
            return value

    llm_server.responder = lambda rid, prompt: {"id": rid, "words": 2 if rid == "1" else 9, "shout": "X"}
    out = _run(llm_server, RECORDS[:3], output_schema=Reply.model_json_schema(), output_model=Reply, on_invalid="keep")
    assert out[0]["words"] == 9 and "too few words" in out[1]["_ai_error"]["error"]


def test_rate_limit_and_server_errors_use_the_shared_retry_policy(llm_server: FakeLlmServer) -> None:
    llm_server.inject("1", "429", retry_after=1)
    llm_server.inject("4", "500", times=2)
    out = _run(llm_server)
    assert len(out) == 6
    assert llm_server.requests_for("1") == 2 and llm_server.requests_for("4") == 3


def test_persistent_5xx_is_a_retryable_http_error_and_spent_tokens_are_logged(
    llm_server: FakeLlmServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="test.ai_transform")
    llm_server.inject("2", "500", times=None)
    with pytest.raises(HttpError) as info:
        _run(llm_server, max_concurrency=1)
    assert info.value.status_code == 500 and info.value.is_retryable
    stopped = [r.getMessage() for r in caplog.records if r.getMessage().startswith("ai.transform fake-1 stopped: ")]
    assert len(stopped) == 1 and not any(" done: " in r.getMessage() for r in caplog.records), stopped
    completions = re.search(r"; (\d+) completions?,", stopped[0])
    answered = [r for r in llm_server.requests if r.record_id != "2"]  # in-flight records count too
    assert completions is not None and int(completions.group(1)) == len(answered) >= 2
    assert "stopped: 2 records in " in stopped[0]


def test_retry_after_failure_sends_no_request_for_finished_records(llm_server: FakeLlmServer, tmp_path) -> None:
    records = [{"id": str(i), "text": "t"} for i in range(30)]
    llm_server.inject("20", "500", times=None)
    with pytest.raises(HttpError):
        _run(llm_server, records, base=tmp_path, fs_conn_id="fs", max_concurrency=2)
    done_first = {r.record_id for r in llm_server.requests if r.record_id != "20"}
    assert {str(i) for i in range(20)} <= done_first
    cache = tmp_path / ".flow_cache" / "ai_transform" / "d" / "t.ndjson"
    assert cache.exists()

    llm_server.clear_faults()
    before = {rid: llm_server.requests_for(rid) for rid in done_first}
    out = _run(llm_server, records, base=tmp_path, fs_conn_id="fs", max_concurrency=2)
    assert [r["id"] for r in out] == [str(i) for i in range(30)]
    assert all(llm_server.requests_for(rid) == before[rid] for rid in done_first)  # nothing re-asked
    assert llm_server.requests_for("20") > before.get("20", 0)


def test_cache_key_changes_with_prompt_and_model(llm_server: FakeLlmServer, tmp_path) -> None:
    _run(llm_server, RECORDS[:2], base_path=str(tmp_path))
    _run(llm_server, RECORDS[:2], base_path=str(tmp_path))
    assert len(llm_server.requests) == 2
    _run(llm_server, RECORDS[:2], base_path=str(tmp_path), model="fake-2")
    _run(llm_server, RECORDS[:2], base_path=str(tmp_path), prompt=PROMPT + "!")
    assert len(llm_server.requests) == 6


def test_cache_with_a_torn_last_line_stays_usable(llm_server: FakeLlmServer, tmp_path) -> None:
    cache = "cache/ai.ndjson"
    _run(llm_server, RECORDS[:2], base_path=str(tmp_path), cache_path=cache)
    path = tmp_path / cache
    with path.open("ab") as handle:
        handle.write(b'{"key": "abc", "status": "o')  # a write cut by a killed task
    out = _run(llm_server, RECORDS[:3], base_path=str(tmp_path), cache_path=cache)
    assert len(out) == 3 and len(llm_server.requests) == 3
    lines = path.read_bytes().splitlines()
    assert len(lines) == 4 and json.loads(lines[-1])["status"] == "ok"


def test_cache_path_is_confined(llm_server: FakeLlmServer, tmp_path) -> None:
    from airflow_provider_flow.errors import PathTraversalError

    with pytest.raises(PathTraversalError):
        _run(llm_server, RECORDS[:1], base_path=str(tmp_path), cache_path="../escape.ndjson")
    assert not (tmp_path.parent / "escape.ndjson").exists()


def test_concurrency_is_bounded_and_order_kept(llm_server: FakeLlmServer) -> None:
    records = [{"id": str(i), "text": "x"} for i in range(12)]
    for i in range(12):
        llm_server.inject(str(i), "slow", delay=0.2 if i % 3 == 0 else 0.05)
    out = _run(llm_server, records, max_concurrency=3)
    assert [r["id"] for r in out] == [str(i) for i in range(12)]
    assert 1 < llm_server.max_in_flight <= 3


def test_output_path_writes_a_file_reference(llm_server: FakeLlmServer, tmp_path) -> None:
    ref = _run(llm_server, RECORDS[:4], base_path=str(tmp_path), output_path="out/ai.ndjson", cache=False)
    assert isinstance(ref, FileReference) and ref.records == 4
    lines = (tmp_path / "out" / "ai.ndjson").read_text().splitlines()
    assert json.loads(lines[3])["id"] == "3"
    assert not (tmp_path / ".flow_cache").exists()


def test_prompt_with_missing_field_names_the_record(llm_server: FakeLlmServer) -> None:
    records = [{"id": "0", "text": "a"}, {"id": "1"}]
    with pytest.raises(FlowValidationError) as info:
        _run(llm_server, records)
    assert "failed on record 1" in str(info.value) and "${text || ''}" in str(info.value)


def test_prompt_placeholders_are_expressions_not_python(llm_server: FakeLlmServer) -> None:
    records = [{"id": "0", "user": {"name": "ada"}, "tags": ["a", "b"], "cost": "$5"}]
    _run(llm_server, records, prompt="[id:${id}] ${upper(user.name)} ${tags} $${cost} costs ${cost} ${note || '-'}")
    assert llm_server.requests[0].body["messages"][-1]["content"] == '[id:0] ADA ["a", "b"] ${cost} costs $5 -'
    # Reads dict keys only: Python attributes are out of reach, so this is just a missing field.
    with pytest.raises(FlowValidationError, match="null or missing"):
        _run(llm_server, records, prompt="[id:${id}] ${__class__.__mro__[1]}")
    with pytest.raises(FlowValidationError, match=r"config\.prompt"):
        _config(prompt="[id:${id}] ${text[}")


def test_wrong_api_key_fails_without_leaking_it(llm_server: FakeLlmServer) -> None:
    secret = "sk-wrong-DO-NOT-LOG-123456"
    with pytest.raises(HttpError) as info:
        AiTransformRuntime().execute(_config(), RECORDS[:1], _state(llm_server, api_key=secret))
    assert info.value.status_code == 401 and not info.value.is_retryable
    assert secret not in str(info.value) and secret not in repr(info.value.to_dict())
    assert secret not in repr(_state(llm_server, api_key=secret).settings.get(LLM, "llm_default"))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"output_schema": {"type": "object", "properties": {"a": {"type": "nope"}}}}, "not a valid JSON Schema"),
        ({"output_schema": {"type": "array"}}, "must describe an object"),
        ({"on_invalid": "ignore"}, "config.on_invalid"),
        ({"max_concurrency": 0}, "config.max_concurrency"),
        ({"batch_size": 0}, "config.batch_size"),
        ({"batch_size": 101}, "config.batch_size"),
        ({"temperatur": 1}, "unknown key 'temperatur'"),
    ],
)
def test_bad_config_is_explained(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(FlowValidationError, match=message):
        _config(**overrides)


def test_file_reference_input_is_streamed(llm_server: FakeLlmServer, tmp_path) -> None:
    from airflow_provider_flow.records.writer import write_records

    ref = write_records(str(tmp_path), "in.ndjson", RECORDS, base_path=str(tmp_path))
    out = _run(llm_server, ref.model_dump(mode="json"), base=tmp_path, output_path="out.jsonl", fs_conn_id="fs")
    assert isinstance(out, FileReference) and out.records == 6 and out.format == "ndjson"
    assert len(llm_server.requests) == 6


def test_json_object_mode_states_the_schema_in_a_system_message(llm_server: FakeLlmServer) -> None:
    out = _run(llm_server, RECORDS[:1], response_format="json_object")
    assert out[0]["words"] == 7
    body = llm_server.requests[0].body
    assert body["response_format"] == {"type": "json_object"}
    assert body["messages"][0]["role"] == "system" and '"shout"' in body["messages"][0]["content"]


def test_a_2xx_reply_without_choices_is_explained_without_the_key(http_server) -> None:
    from airflow_provider_flow.errors import InvalidResponseError

    def not_openai(req: Any) -> tuple[int, dict[str, str], bytes]:
        return 200, {}, json.dumps({"seen_auth": req.headers.get("authorization")}).encode()

    http_server.add_route("/v1/chat/completions", not_openai)
    settings = LlmSettings(base_url=http_server.url + "/v1", api_key="sk-echoed-SECRET-99")
    state = ExecutionState(settings=StaticSettingsProvider(llm={"llm_default": settings}))
    with pytest.raises(InvalidResponseError, match="without choices") as info:
        AiTransformRuntime().execute(_config(cache=False), RECORDS[:1], state)
    assert "sk-echoed-SECRET-99" not in str(info.value) and "Bearer ***" in str(info.value)


def test_cached_invalid_reply_is_asked_again_when_more_repairs_are_allowed(llm_server: FakeLlmServer, tmp_path) -> None:
    llm_server.inject("3", "invalid_json", times=1)
    first = _run(llm_server, RECORDS[:4], base_path=str(tmp_path), on_invalid="keep", max_repair_attempts=0)
    assert "_ai_error" in first[3]
    again = _run(llm_server, RECORDS[:4], base_path=str(tmp_path), on_invalid="keep", max_repair_attempts=0)
    assert "_ai_error" in again[3] and llm_server.requests_for("3") == 1  # same bound: the cached outcome stands
    more = _run(llm_server, RECORDS[:4], base_path=str(tmp_path), on_invalid="keep", max_repair_attempts=1)
    assert more[3]["words"] == 7 and llm_server.requests_for("3") == 2
    assert len(llm_server.requests) == 5  # records 0-2 came from the cache every time


# -- batch_size > 1 ---------------------------------------------------------------------------------------------

TWELVE = [{"id": str(i), "text": f"item number {i} is here"} for i in range(12)]


def _batch_requests(server: FakeLlmServer) -> list[list[str | None]]:
    """The records of each request, sorted (batches run concurrently, so they arrive in any order)."""
    return sorted((r.record_ids for r in server.requests), key=lambda ids: int(ids[0] or 0))


def test_batches_give_the_same_records_with_fewer_requests(llm_server: FakeLlmServer) -> None:
    single = _run(llm_server, TWELVE, cache=False)
    assert len(llm_server.requests) == 12
    llm_server.reset()
    result = _run_full(llm_server, TWELVE, cache=False, batch_size=5)
    assert result.value == single  # same enrichment, input order kept
    ids = [str(i) for i in range(12)]
    assert _batch_requests(llm_server) == [ids[0:5], ids[5:10], ids[10:12]]
    body = next(r for r in llm_server.requests if r.record_ids[0] == "0").body
    schema = body["response_format"]["json_schema"]["schema"]
    assert schema["required"] == ["results"] and schema["properties"]["results"]["items"] == DEFAULT_REPLY_SCHEMA
    assert schema["properties"]["results"]["minItems"] == schema["properties"]["results"]["maxItems"] == 5
    last = next(r for r in llm_server.requests if r.record_ids[0] == "10").body["response_format"]["json_schema"]
    assert last["schema"]["properties"]["results"]["maxItems"] == 2
    usage = result.extra_xcom["usage"]
    assert usage["usage"]["completions"] == 3 and usage["records_out"] == 12 and usage["repaired"] == 0


def test_a_schema_violating_item_is_repaired_and_the_valid_items_kept(llm_server: FakeLlmServer) -> None:
    llm_server.inject("7", "schema_violation")
    result = _run_full(llm_server, TWELVE, cache=False, batch_size=5)
    assert [r["words"] for r in result.value] == [7] * 12
    assert len(llm_server.requests) == 4 and llm_server.requests_for("7") == 2
    repair = [r for r in llm_server.requests if "7" in r.record_ids][1]
    assert repair.record_ids == ["5", "6", "7", "8", "9"]
    feedback = repair.body["messages"][-1]["content"]
    assert "1 of 5 items are invalid" in feedback and "results[2] (record 3)" in feedback
    assert "words: 'many' is not of type 'integer'" in feedback
    assert result.extra_xcom["usage"]["repaired"] == 1  # only record 7 needed the repair


def test_a_wrong_length_batch_reply_is_repaired(llm_server: FakeLlmServer) -> None:
    llm_server.inject("3", "wrong_length")
    out = _run(llm_server, TWELVE[:5], cache=False, batch_size=5)
    assert [r["id"] for r in out] == ["0", "1", "2", "3", "4"] and out[4]["words"] == 7
    assert len(llm_server.requests) == 2
    assert '"results" holds 4 items; it must hold exactly 5' in llm_server.requests[1].body["messages"][-1]["content"]


def test_on_invalid_applies_to_the_still_invalid_records_of_a_batch_only(llm_server: FakeLlmServer) -> None:
    llm_server.inject("1", "schema_violation", times=None)
    llm_server.inject("0", "slow", delay=0)  # a no-op for the first request...
    llm_server.inject("0", "schema_violation")  # ...then the repair reply spoils record 0: its first answer stands
    kept = _run(llm_server, TWELVE[:4], cache=False, batch_size=4, on_invalid="keep", max_repair_attempts=1)
    assert len(llm_server.requests) == 2
    assert [("_ai_error" in r, r.get("words")) for r in kept] == [(False, 7), (True, None), (False, 7), (False, 7)]
    assert "'many' is not of type 'integer'" in kept[1]["_ai_error"]["error"]
    assert kept[1]["_ai_error"]["reply_excerpt"] == '{"id": "1", "words": "many"}'
    llm_server.reset()
    llm_server.inject("2", "wrong_length", times=None)
    with pytest.raises(LlmOutputError, match=r"record 0: .*holds 3 items"):
        _run(llm_server, TWELVE[:4], cache=False, batch_size=4, max_repair_attempts=1)


def test_cached_records_are_not_sent_again_in_a_batch(llm_server: FakeLlmServer, tmp_path) -> None:
    evens = [r for r in TWELVE if int(r["id"]) % 2 == 0 and int(r["id"]) < 6]
    _run(llm_server, evens, base_path=str(tmp_path))  # batch_size=1 fills the cache for 0, 2, 4
    llm_server.reset()
    out = _run(llm_server, TWELVE[:10], base_path=str(tmp_path), batch_size=5)
    # the cache key does not depend on the batch size; only uncached records are grouped, consecutively
    assert _batch_requests(llm_server) == [["1", "3", "5", "6", "7"], ["8", "9"]]
    assert [r["id"] for r in out] == [str(i) for i in range(10)] and all(r["words"] == 7 for r in out)
    llm_server.reset()
    assert _run(llm_server, TWELVE[:10], base_path=str(tmp_path), batch_size=1) == out
    assert llm_server.requests == []  # and back: batch results serve single runs


def test_batches_share_the_concurrency_bound(llm_server: FakeLlmServer) -> None:
    for i in range(12):
        llm_server.inject(str(i), "slow", delay=0.2)
    out = _run(llm_server, TWELVE, cache=False, batch_size=2, max_concurrency=2)
    assert [r["id"] for r in out] == [str(i) for i in range(12)]
    assert len(llm_server.requests) == 6 and llm_server.max_in_flight == 2


def test_a_per_record_system_prompt_cannot_be_batched(llm_server: FakeLlmServer) -> None:
    with pytest.raises(FlowValidationError, match=r"config.system_prompt renders differently per record"):
        _run(llm_server, TWELVE[:2], cache=False, batch_size=2, system_prompt="About ${id}")
    out = _run(llm_server, TWELVE[:2], cache=False, batch_size=2, system_prompt="Be brief.")
    assert len(out) == 2 and llm_server.requests[-1].body["messages"][0] == {"role": "system", "content": "Be brief."}


def test_batch_schema_keeps_nested_model_references_resolvable(llm_server: FakeLlmServer) -> None:
    from jsonschema import Draft202012Validator

    class Inner(BaseModel):
        n: int

    class Reply(BaseModel):
        id: str
        inner: Inner

    llm_server.responder = lambda rid, prompt: {"id": rid, "inner": {"n": len(prompt.split())}}
    schema = Reply.model_json_schema()
    out = _run(llm_server, TWELVE[:3], cache=False, batch_size=3, output_schema=schema, output_model=Reply)
    assert [r["inner"] for r in out] == [{"n": 7}] * 3
    sent = llm_server.requests[0].body["response_format"]["json_schema"]["schema"]
    assert "$defs" in sent and "$defs" not in sent["properties"]["results"]["items"]
    Draft202012Validator(sent).validate({"results": [{"id": "0", "inner": {"n": 1}}] * 3})
    assert not Draft202012Validator(sent).is_valid({"results": [{"id": "0", "inner": {"n": "x"}}] * 3})
