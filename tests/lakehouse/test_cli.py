"""The command line's own texts, checked without any service."""

from __future__ import annotations

import re

import pytest

from ingestion.config import PROJECT_ROOT, settings
from lakehouse.cli import build_parser, where_to_look

pytestmark = pytest.mark.fast


def test_the_end_of_run_names_every_way_to_look_and_each_command_exists():
    text = where_to_look(settings())
    for way in (
        "dashboard",
        "REST API",
        "Dagster UI",
        "dbt docs",
        "ad hoc SQL",
        "PySpark",
        "PostgreSQL",
        "a file",
        "check gold",
    ):
        assert f"  {way}:" in text, way
    targets = set(re.findall(r"^([a-z-]+):", (PROJECT_ROOT / "Makefile").read_text(), re.MULTILINE))
    assert set(re.findall(r"make ([a-z-]+)", text)) <= targets
    commands = set(build_parser()._subparsers._group_actions[0].choices)
    assert set(re.findall(r"lakehouse ([a-z-]+)", text)) <= commands
