"""Cutting a stream of byte chunks into lines, a list per chunk: shared by HTTP bodies and files read in blocks.

Per-chunk work (hashing, progress, a block's exact bytes) is then done once per chunk, not per line. Chunks
without a newline are collected in a list and joined once, so a line spanning many chunks costs linear time
(appending to one bytes object would copy it for every chunk).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator


def line_batches(chunks: Iterable[bytes]) -> Iterator[tuple[list[bytes], bytes, int]]:
    """``(lines, block, rest)`` per chunk holding a newline: its complete lines (without ``\\n``), the bytes they
    were cut from (joined with any earlier chunks without a newline) and how many bytes at the end of ``block``
    belong to the next line. A partial trailing line comes last as ``([tail], tail, 0)``: the only block that does
    not end in ``\\n`` once its ``rest`` is cut off."""
    pending: list[bytes] = []
    for chunk in chunks:
        if b"\n" not in chunk:
            pending.append(chunk)
            continue
        if pending:
            pending.append(chunk)
            chunk = b"".join(pending)
        lines = chunk.split(b"\n")
        rest = lines.pop()
        pending = [rest] if rest else []
        yield lines, chunk, len(rest)
    if pending:
        tail = b"".join(pending)
        yield [tail], tail, 0
