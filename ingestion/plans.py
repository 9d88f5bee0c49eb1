"""What a batch will read, decided before it is read: the heart of exactly once.

A plan is decided from the ledger before anything is read and travels with the batch's bronze commit,
so a batch written by a run killed before its ledger event is recorded as it was written. Plans are
frozen; they are turned into JSON and back here only.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace


@dataclass(frozen=True)
class FilePlan:
    """Records `start_record` .. `start_record + max_records` of one version of a landing file, or
    (`max_records` None) the whole file in one batch, split by Spark (see `lines.py`)."""

    file: str
    """Name relative to the source's landing folder."""
    sha256: str
    """The content hash: a changed file under the same name is another version."""
    start_record: int
    max_records: int | None
    records: int | None = None
    """How many records the batch took (known once read)."""
    eof: bool | None = None
    """Whether the batch reached the end of the file (known once read)."""

    def read(self, records: int, eof: bool) -> FilePlan:
        return replace(self, records=records, eof=eof)

    def describe(self) -> str:
        return self.file


@dataclass(frozen=True)
class OffsetRange:
    partition: int
    start: int
    end: int
    """Exclusive."""

    def __str__(self) -> str:
        """`p0 6723–6727`: the first and the last offset read."""
        last = f"–{self.end - 1}" if self.end - 1 > self.start else ""
        return f"p{self.partition} {self.start}{last}"


@dataclass(frozen=True)
class KafkaPlan:
    """Exactly these offsets of a topic, one range per partition."""

    topic: str
    ranges: tuple[OffsetRange, ...]

    def describe(self) -> str:
        return offsets_text(self.ranges)


Plan = FilePlan | KafkaPlan


def offsets_text(ranges: tuple[OffsetRange, ...] | list[OffsetRange]) -> str:
    return ", ".join(str(r) for r in ranges)


def plan_to_json(plan: Plan) -> str:
    return json.dumps(asdict(plan), sort_keys=True)


def plan_from_json(text: str) -> Plan:
    data = json.loads(text)
    if "topic" in data:
        return KafkaPlan(data["topic"], tuple(OffsetRange(**r) for r in data["ranges"]))
    return FilePlan(**{name: data.get(name) for name in FilePlan.__dataclass_fields__})
