"""The command line's own texts, checked without any service."""

from __future__ import annotations

import argparse
import re

import pytest

from ingestion.config import PROJECT_ROOT
from lakehouse.cli import build_parser, main, where_to_look
from lakehouse.settings import settings

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
        "alerts",
        "metrics",
    ):
        assert f"  {way}:" in text, way
    targets = set(re.findall(r"^([a-z-]+):", (PROJECT_ROOT / "Makefile").read_text(), re.MULTILINE))
    assert set(re.findall(r"make ([a-z-]+)", text)) <= targets
    commands = set(build_parser()._subparsers._group_actions[0].choices)
    assert set(re.findall(r"lakehouse ([a-z-]+)", text)) <= commands


def _commands() -> dict[str, argparse.ArgumentParser]:
    return build_parser()._subparsers._group_actions[0].choices


@pytest.mark.parametrize("command", sorted(_commands()))
def test_every_command_says_what_it_does_its_defaults_and_an_example(command, capsys):
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    parser = _commands()[command]
    assert parser.description and parser.description.rstrip(".") in text
    assert f"examples: lakehouse {command}" in text
    for action in parser._actions:
        if action.option_strings and action.default not in (None, False, argparse.SUPPRESS):
            assert f"default: {action.default}" in text, action.dest


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["ingest", "--batches"], "lakehouse ingest: unrecognized arguments: --batches; the options are: "),
        (
            ["export", "gold.x", "--out", "x.csv", "--format", "xml"],
            "invalid choice: 'xml' (choose from 'csv', 'parquet')",
        ),
        (["kafka", "restart"], "invalid choice: 'restart' (choose from 'start', 'stop', 'status')"),
        (["ingst"], "invalid choice: 'ingst' (choose from 'up', 'down'"),
    ],
)
def test_a_mistake_on_the_command_line_is_one_line_naming_the_valid_choices(argv, says, capsys):
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 2
    error = capsys.readouterr().err
    assert len(error.splitlines()) == 1 and says in error, error
    if argv[0] == "ingest":
        assert "--max-batches, --follow, --interval, --build" in error
