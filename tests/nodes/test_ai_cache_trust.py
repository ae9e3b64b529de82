"""The ai.transform resume cache does not trust its file: entries are validated like fresh replies, growth is bounded.

Real cache files under tmp_path, real LLM server (tests/fixtures/llm_server.py).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from airflow_provider_flow.core.config import validate_config
from airflow_provider_flow.nodes.ai_transform import AiTransformConfig, AiTransformRuntime
from tests.fixtures.llm_server import DEFAULT_REPLY_SCHEMA, FakeLlmServer
from tests.nodes.test_ai_hostile import llm_state

RECORDS = [{"id": str(i), "text": f"item number {i} is here"} for i in range(8)]
CACHE = "cache/ai.ndjson"


def run(server: FakeLlmServer, base: Path, records: Any, **overrides: Any) -> Any:
    state = llm_state(server, "test.ai_cache")
    values = {
        "model": "m",
        "prompt": "[id:${id}] Describe: ${text}",
        "output_schema": DEFAULT_REPLY_SCHEMA,
        "base_path": str(base),
        "cache_path": CACHE,
        "max_concurrency": 1,
        **overrides,
    }
    return AiTransformRuntime().execute(validate_config(AiTransformConfig, values), records, state).value


def lines(base: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (base / CACHE).read_bytes().splitlines()]


def write(base: Path, entries: list[Any], tail: bytes = b"") -> None:
    raw = b"".join(json.dumps(e).encode() + b"\n" if isinstance(e, dict) else e for e in entries)
    (base / CACHE).write_bytes(raw + tail)


def test_bad_cache_entries_are_misses_with_one_warning(llm_server: FakeLlmServer, tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="test.ai_cache")
    run(llm_server, tmp_path, RECORDS[:5])
    good = {entry["output"]["id"]: entry for entry in lines(tmp_path)}
    no_status = {k: v for k, v in good["0"].items() if k != "status"}  # the line that crashed with KeyError
    null_output = {**good["1"], "output": None}
    off_schema = {**good["2"], "output": {"id": "2", "words": "many", "shout": "X"}}
    newer = {**good["3"], "output": {**good["3"]["output"], "shout": "NEWEST"}}
    write(tmp_path, [no_status, null_output, off_schema, good["3"], newer, good["4"]], tail=b'{"key": "ab')
    llm_server.reset()

    out = run(llm_server, tmp_path, RECORDS[:5])
    assert [llm_server.requests_for(str(i)) for i in range(5)] == [1, 1, 1, 0, 0]  # bad entries asked again
    assert out[1]["shout"] != "NEWEST" and out[1]["words"] == 7  # not the null output
    assert out[2]["words"] == 7  # not the off-schema one
    assert out[3]["shout"] == "NEWEST"  # the newest line of a key wins
    warnings = [r.getMessage() for r in caplog.records if "not usable" in r.getMessage()]
    assert len(warnings) == 1
    assert "4 cache lines" in warnings[0]
    assert "wrong shape (1)" in warnings[0] and "output fails the schema (2)" in warnings[0]
    assert "unreadable (1)" in warnings[0]


def test_a_null_output_is_not_merged(llm_server: FakeLlmServer, tmp_path: Path) -> None:
    run(llm_server, tmp_path, RECORDS[:1])
    [entry] = lines(tmp_path)
    write(tmp_path, [{**entry, "output": None}])
    out = run(llm_server, tmp_path, RECORDS[:1])
    assert out == [{"id": "0", "text": "item number 0 is here", "words": 7, "shout": out[0]["shout"]}]
    assert llm_server.requests_for("0") == 2


def test_duplicate_and_dead_lines_are_compacted_to_the_newest_entry_per_key(
    llm_server: FakeLlmServer, tmp_path: Path
) -> None:
    run(llm_server, tmp_path, RECORDS[:3])
    entries = lines(tmp_path)
    write(tmp_path, entries * 60 + [b"not json\n"] * 50)  # a file that only ever grew
    run(llm_server, tmp_path, RECORDS[:3])
    assert len(llm_server.requests) == 3  # everything came from the cache
    assert sorted(e["key"] for e in lines(tmp_path)) == sorted(e["key"] for e in entries)


def test_the_cache_keeps_at_most_max_entries_the_newest(llm_server: FakeLlmServer, tmp_path: Path) -> None:
    run(llm_server, tmp_path, RECORDS, cache_max_entries=5)
    assert len(lines(tmp_path)) == 8  # a run appends what it finishes
    run(llm_server, tmp_path, RECORDS[:1], cache_max_entries=5)  # the load compacts to the 5 newest
    kept = [e["output"]["id"] for e in lines(tmp_path)]
    assert kept == ["3", "4", "5", "6", "7", "0"]  # record 0 was asked again and appended
    assert llm_server.requests_for("0") == 2
