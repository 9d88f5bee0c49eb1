"""The states of a batch, as its ledger events name them."""

from __future__ import annotations

from enum import StrEnum


class BatchStatus(StrEnum):
    """Where a batch stands; its latest ledger event says it. Readers see the good records of a
    `committed` batch only."""

    STARTED = "started"
    """Only in the memory of the run writing it (its plan travels in its bronze commit)."""
    COMMITTED = "committed"
    QUARANTINED = "quarantined"
    """Too many bad records: none of its records is visible."""
    ROLLED_BACK = "rolled_back"
    UNREADABLE = "unreadable"
    """Lands nothing: it marks a damaged file version as skipped, with the reason."""
    ABANDONED = "abandoned"
    """From a data home of before: it held nothing and its input is planned again."""


DONE = (BatchStatus.COMMITTED, BatchStatus.QUARANTINED, BatchStatus.ROLLED_BACK, BatchStatus.UNREADABLE)
"""A batch in one of these states holds its input: the next batch plans from where it ended."""
LANDED = (BatchStatus.COMMITTED, BatchStatus.QUARANTINED)
"""A batch in one of these states has its records in bronze."""
