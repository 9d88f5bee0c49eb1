"""Where each split of a line file starts counting lines, from the Python pass over the file
(no service: the Spark side is in test_bronze_files.py)."""

from __future__ import annotations

import random
import re

import pytest

from ingestion.lines import _LineStarts, split_bytes

pytestmark = pytest.mark.fast

SPLIT = 1 << 20


def _content() -> bytes:
    rng = random.Random(2)
    lines = (f"line {n} " + "x" * rng.randint(0, 300) + rng.choice(["\n", "\r\n", "\r", "\n\n"]) for n in range(30_000))
    return "".join(lines).encode()


def _expected(data: bytes) -> tuple[int, ...]:
    """Per split, the lines that start at or before its offset: Hadoop gives those to earlier splits."""
    ends = [m.end() for m in re.finditer(rb"\r\n|\n|\r", data)]
    return (0, *(1 + sum(1 for end in ends if end <= k * SPLIT) for k in range(1, -(-len(data) // SPLIT))))


@pytest.mark.parametrize("reads", [[SPLIT], [4096], [777, 1 << 16, 13]])
def test_lines_before_each_split_whatever_the_reads_return(reads):
    data = _content()
    starts, at, n = _LineStarts(SPLIT), 0, 0
    while at < len(data):
        size = reads[n % len(reads)]
        starts.add(data[at : at + size])
        at, n = at + size, n + 1

    assert len(starts.before_splits()) >= 4
    assert starts.before_splits() == _expected(data)


def test_splits_spread_a_file_evenly_over_the_cores():
    assert split_bytes(0, 2) == 1 << 20
    assert split_bytes(81_000_000, 2) == 39 << 20  # two splits
    assert split_bytes(308_000_000, 2) == 74 << 20  # four: two of 154 MB would pass Spark's 128 MiB
