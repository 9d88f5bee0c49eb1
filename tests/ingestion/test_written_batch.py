"""What a batch's bronze commit carries (its `userMetadata`), read back; commits of other writers
(a purge, another tool, a data home of before) are not taken for a batch's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingestion.batch import WrittenBatch
from ingestion.ledger import Batch
from ingestion.plans import KafkaPlan, OffsetRange
from ingestion.sources import get_source

pytestmark = pytest.mark.fast


def test_a_batch_commit_reads_back_as_written():
    plan = KafkaPlan("sales", (OffsetRange(0, 10, 20), OffsetRange(1, 0, 5)))
    batch = Batch(
        "sales-000007", "sales", 7, "started", plan, note="replay of sales-000003", started_at=datetime.now(UTC)
    )

    read = WrittenBatch.parse(42, WrittenBatch.of(batch, "writer-1").to_json())

    assert read == WrittenBatch(42, "sales-000007", 7, plan, "replay of sales-000003", batch.started_at, "writer-1")
    assert (read.batch(get_source("sales")).seq, read.batch(get_source("sales")).plan) == (7, plan)


@pytest.mark.parametrize("metadata", [None, "", "sales-000001", "123", "[1]", '{"batch_id": "x"}', "{not json"])
def test_other_commits_are_not_a_batch(metadata):
    assert WrittenBatch.parse(1, metadata) is None
