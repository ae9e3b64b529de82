"""Why the codecs use msgspec to parse and orjson to write: both libraries and the stdlib on typical ~1 KB records.

    .venv/bin/python benchmarks/codec_choice_benchmark.py --size 20000 --runs 5   # size: records per run

Prints microseconds per record (best of ``--runs``) for decoding and encoding with ``json``, ``orjson`` and
``msgspec``, then what each library does with the inputs where they differ (integers beyond 64 bits, NaN, lone
surrogates, deep nesting). The choice in ``records/codecs.py``: parse with msgspec (as fast as orjson, and it keeps
big integers exact where orjson silently turns them into floats, which no cheap check can catch afterwards), write
with orjson (about twice msgspec's speed; what it refuses goes to the stdlib). No goal of its own: the last line is
``BENCH-RESULT {"results": []}`` for the runner.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

import msgspec
import orjson
from codec_files_benchmark import make_record  # the same ~1 KB records (this folder is on sys.path)

STDLIB_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
DECODERS: dict[str, Callable[[bytes], Any]] = {
    "json": json.loads,
    "orjson": orjson.loads,
    "msgspec": msgspec.json.Decoder().decode,
}
ENCODERS: dict[str, Callable[[Any], bytes]] = {
    "json": lambda value: STDLIB_ENCODER.encode(value).encode(),
    "orjson": orjson.dumps,
    "msgspec": msgspec.json.Encoder().encode,
}
EDGE_INPUTS = {
    "int beyond 64 bits": b"[123456789012345678901234567890]",
    "NaN literal": b"[NaN]",
    "lone surrogate escape": b'["\\ud800"]',
    "nesting 5000 deep": b"[" * 5000 + b"]" * 5000,
}


def best_us(fn: Callable[[Any], Any], items: list[Any], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        for item in items:
            fn(item)
        best = min(best, time.perf_counter() - start)
    return best / len(items) * 1e6


def outcome(fn: Callable[[bytes], Any], data: bytes) -> str:
    try:
        return repr(fn(data))[:40]
    except RecursionError:
        return "RecursionError"
    except Exception as exc:  # what the library raises is the point here
        return type(exc).__name__


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=20_000, help="records per run")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    records = [make_record(i) for i in range(args.size)]
    lines = [orjson.dumps(record) for record in records]
    print(f"{args.size:,} records of {sum(map(len, lines)) / len(lines):.0f} bytes; best of {args.runs} runs")
    print(f"{'library':<10}{'decode us':>12}{'encode us':>12}")
    for name in DECODERS:
        decode, encode = best_us(DECODERS[name], lines, args.runs), best_us(ENCODERS[name], records, args.runs)
        print(f"{name:<10}{decode:>12.2f}{encode:>12.2f}")
    print("\nwhere they differ (decoding):")
    for label, data in EDGE_INPUTS.items():
        print(f"  {label:<24}" + "  ".join(f"{name}: {outcome(fn, data)}" for name, fn in DECODERS.items()))
    print("BENCH-RESULT " + json.dumps({"results": []}))


if __name__ == "__main__":
    main()
