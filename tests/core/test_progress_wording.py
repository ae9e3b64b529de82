"""Progress lines say "1 page", "2 batches": a sink counts batches, not pages (issue 15, first hour)."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_flow.core.progress import ProgressReporter, counted


@pytest.mark.parametrize(
    ("count", "noun", "text"),
    [
        (1, "page", "1 page"),
        (2, "page", "2 pages"),
        (0, "record", "0 records"),
        (1, "batch", "1 batch"),
        (3, "batch", "3 batches"),
    ],
)
def test_counts_are_worded_in_singular_and_plural(count: int, noun: str, text: str) -> None:
    assert counted(count, noun) == text


def test_the_summary_line_uses_the_runtimes_unit(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("progress-test")
    reporter = ProgressReporter(log, "http.sink POST http://x/y", page_noun="batch")
    reporter.update(records=1, bytes=10, pages=1)
    with caplog.at_level(logging.INFO, logger="progress-test"):
        reporter.finish()
    line = caplog.records[-1].getMessage()
    assert " done: 1 record, 10 B, 1 batch in " in line
    counts = line.split(" in ")[0]  # the rate after it may read '9,511 records/s'
    assert "pages" not in counts and "1 records" not in counts and "batches" not in counts
