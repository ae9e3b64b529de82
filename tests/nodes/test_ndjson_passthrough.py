"""NDJSON in, NDJSON file out: ``http.source`` writes each strict JSON line's own bytes (validated, counted, hashed),
and still refuses or re-encodes whatever the old path refused or changed.

Real loopback server (``tests/fixtures/http_server.py``), real files. Lines are formatted the way no encoder would
write them (spaces, escapes, exponent forms, key order), so a re-encoded line cannot pass for an original one.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_flow.errors import FlowValidationError, InvalidResponseError, NestingTooDeepError
from tests.nodes.test_http_source import run, state  # noqa: F401 - state is a fixture

ODD_LINES = [
    b'{ "b" : 2 ,  "a" : [ 1 , 2.50 , 1E2 ] }',
    b'{"caf\\u00e9": "\\u20ac", "raw": "\xe2\x82\xac", "big": 123456789012345678901234567890}',
    b'  "just a string"  ',
    b"[]",
    b"null",
]


def serve(http_server: Any, path: str, body: bytes, pages: int = 1) -> None:
    """``body`` on every page, then a line naming the page when there are several (a repeated page is a loop);
    page n links to n+1 (Link header)."""

    def handler(req: Any) -> tuple[int, dict[str, str], bytes]:
        page = int(req.query.get("page", "1"))
        headers = {"Content-Type": "application/x-ndjson"}
        if page < pages:
            headers["Link"] = f'<{http_server.url}{path}?page={page + 1}>; rel="next"'
        return 200, headers, body + (b'{"page":%d}\n' % page if pages > 1 else b"")

    http_server.add_route(path, handler)


def fetch(state: Any, tmp_path: Path, path: str, **config: Any) -> Any:  # noqa: F811
    return run(
        state,
        endpoint=path,
        response_format="ndjson",
        output_path="out.ndjson",
        base_path=str(tmp_path),
        **config,
    )


def test_strict_lines_are_written_as_they_came(http_server, state, tmp_path: Path) -> None:  # noqa: F811
    body = b"\n".join(ODD_LINES) + b"\r\n\n   \n"  # CRLF, blank and whitespace-only lines
    serve(http_server, "/odd", body, pages=2)
    ref = fetch(state, tmp_path, "/odd", pagination={"type": "link"})
    written = (tmp_path / "out.ndjson").read_bytes()
    page = b"".join(line.strip() + b"\n" for line in ODD_LINES)
    assert written == page + b'{"page":1}\n' + page + b'{"page":2}\n'
    assert (ref.records, ref.pages, ref.bytes) == (12, 2, len(written))
    assert ref.sha256 == hashlib.sha256(written).hexdigest()
    assert [json.loads(line) for line in written.splitlines()][:2] == [
        json.loads(ODD_LINES[0]),
        json.loads(ODD_LINES[1]),
    ]


def test_inline_results_are_the_parsed_records(http_server, state) -> None:  # noqa: F811
    serve(http_server, "/odd-inline", b"\n".join(ODD_LINES))
    records = run(state, endpoint="/odd-inline", response_format="ndjson")
    assert records == [json.loads(line) for line in ODD_LINES]


def test_other_output_formats_encode_the_records(http_server, state, tmp_path: Path) -> None:  # noqa: F811
    serve(http_server, "/odd-json", b"\n".join(ODD_LINES[:2]))
    fetch(state, tmp_path, "/odd-json", output_format="json")
    assert json.loads((tmp_path / "out.ndjson").read_text()) == [json.loads(line) for line in ODD_LINES[:2]]


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (b'{"x": NaN}', "cannot be written as JSON"),  # the stdlib reads NaN; JSON output refuses it, as before
        (b'{"x": 1e999}', "cannot be written as JSON"),
        (b'{"x": "\\ud800"}', "UTF-8 cannot encode"),  # a lone surrogate escape: not writable as UTF-8
    ],
)
def test_lines_only_the_lenient_parser_reads_are_refused_when_written(
    http_server,
    state,  # noqa: F811
    tmp_path: Path,
    line: bytes,
    error: str,
) -> None:
    serve(http_server, "/lenient", b'{"ok": 1}\n' + line + b"\n")
    with pytest.raises(FlowValidationError, match=error) as info:
        fetch(state, tmp_path, "/lenient")
    assert info.value.field == "data[1]"
    assert list(tmp_path.iterdir()) == []  # nothing published, no temporary file left


def test_a_broken_line_fails_naming_it_and_publishes_nothing(http_server, state, tmp_path: Path) -> None:  # noqa: F811
    serve(http_server, "/broken-line", b'{"ok": 1}\n{"ok": 2\n')
    with pytest.raises(InvalidResponseError, match="line 2 of the NDJSON response"):
        fetch(state, tmp_path, "/broken-line")
    assert list(tmp_path.iterdir()) == []


def test_a_deep_line_is_too_deep_and_publishes_nothing(http_server, state, tmp_path: Path) -> None:  # noqa: F811
    serve(http_server, "/deep-line", b'{"ok": 1}\n' + b"[" * 5000 + b"]" * 5000 + b"\n")
    with pytest.raises(NestingTooDeepError, match="line 2"):
        fetch(state, tmp_path, "/deep-line")
    assert list(tmp_path.iterdir()) == []


def test_invalid_utf8_in_a_line_is_refused(http_server, state, tmp_path: Path) -> None:  # noqa: F811
    serve(http_server, "/bad-utf8", b'{"ok": 1}\n{"s": "\xff"}\n')
    with pytest.raises(InvalidResponseError, match="line 2"):
        fetch(state, tmp_path, "/bad-utf8")
    assert list(tmp_path.iterdir()) == []


# -- JSON pages: each record encoded once (for the page digest) and that line written --------------------------------


def test_json_pages_write_each_record_once_and_exactly(http_server, state, tmp_path: Path) -> None:  # noqa: F811
    pages = {
        "1": [{"id": 1, "big": 2**70, "s": "é"}, {"id": 2, "f": 1.5, "n": None}],  # a big int: stdlib-encoded page
        "2": [{"id": 3, "when": "2024-01-01"}, [1, 2], "text"],
        "3": [{"id": 4, "big": 2**70, "s": "é"}, {"id": 2, "f": 1.5, "n": None}],  # like page 1, not equal to it
    }

    def handler(req: Any) -> tuple[int, dict[str, str], bytes]:
        page = req.query.get("page", "1")
        following = str(int(page) + 1) if page != "3" else None
        return 200, {}, json.dumps({"items": pages[page], "next": following}).encode()

    http_server.add_route("/json-pages", handler)
    ref = run(
        state,
        endpoint="/json-pages",
        records_path="items",
        pagination={"type": "cursor", "cursor_path": "next", "cursor_param": "page"},
        output_path="out.ndjson",
        base_path=str(tmp_path),
    )
    written = (tmp_path / "out.ndjson").read_bytes()
    expected = [record for page in ("1", "2", "3") for record in pages[page]]
    assert [json.loads(line) for line in written.splitlines()] == expected
    assert written.splitlines()[0] == b'{"id":1,"big":1180591620717411303424,"s":"\xc3\xa9"}'
    assert (ref.records, ref.pages, ref.sha256) == (7, 3, hashlib.sha256(written).hexdigest())


def test_a_json_page_repeating_the_last_one_is_still_a_loop(http_server, state, tmp_path: Path) -> None:  # noqa: F811
    from airflow_provider_flow.errors import PaginationLoopError

    for big in (1, 2**70):  # digested from the encoded lines, and through marshal
        http_server.add_route(
            f"/same-{big}",
            lambda req, big=big: (
                200,
                {},
                json.dumps({"items": [{"id": big}], "next": "x" + req.query.get("c", "")}).encode(),
            ),
        )
        with pytest.raises(PaginationLoopError):
            run(
                state,
                endpoint=f"/same-{big}",
                records_path="items",
                pagination={"type": "cursor", "cursor_path": "next", "cursor_param": "c"},
                output_path="out.ndjson",
                base_path=str(tmp_path),
            )
    assert list(tmp_path.iterdir()) == []


def test_a_json_page_with_nan_is_refused_when_written(http_server, state, tmp_path: Path) -> None:  # noqa: F811
    http_server.add_route("/nan-page", lambda req: (200, {}, b'{"items": [{"id": 1}, {"x": NaN}]}'))
    with pytest.raises(FlowValidationError, match="cannot be written as JSON") as info:
        run(state, endpoint="/nan-page", records_path="items", output_path="out.ndjson", base_path=str(tmp_path))
    assert info.value.field == "data[1]" and list(tmp_path.iterdir()) == []


def test_a_named_page_is_written_as_its_text_only_when_the_very_records_arrive(tmp_path: Path) -> None:
    """Between producer and writer a wrapper may drop or replace records (the page named is then not what
    arrives): those pages are encoded record by record; a page that arrives whole is written as its text."""
    from airflow_provider_flow.core.progress import ProgressReporter
    from airflow_provider_flow.records.output import OriginalLines, emit_records
    from airflow_provider_flow.storage.local_store import LocalStorage

    lines = OriginalLines()
    pages = [[{"a": 1}, {"b": 2}], [{"c": 3}, {"d": 4}]]
    named_text = b'{ "a" : 1 }\n{ "b" : 2 }\n'  # spaced: differs from what encoding the records would give

    def produce() -> Any:
        for page in pages:
            lines.page, lines.page_text = page, named_text if page is pages[0] else b'{ "c" : 3 }\n{ "d" : 4 }\n'
            yield from page
            lines.page = lines.page_text = None

    def replacing_the_last(records: Any) -> Any:  # passes page 1 as it is, copies page 2's last record
        for record in records:
            yield dict(record) if record is pages[1][1] else record

    log = logging.getLogger("test")
    storage = LocalStorage(str(tmp_path))
    ref = emit_records(
        replacing_the_last(produce()),
        ProgressReporter(log, "t"),
        storage=storage,
        output_path="o.ndjson",
        original_lines=lines,
    )
    assert (tmp_path / "o.ndjson").read_bytes() == named_text + b'{"c":3}\n{"d":4}\n'
    assert ref.records == 4
