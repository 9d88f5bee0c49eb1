"""A batch's shape and a source's schema history, from the observed figures (no service)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ingestion.errors import LakehouseError
from ingestion.ledger import Batch
from ingestion.plans import FilePlan
from ingestion.shapes import Shape, history
from ingestion.sources import get_source

pytestmark = pytest.mark.fast

SITES = get_source("water_sites")


def _observed(rescued: str = "", **present: int) -> Shape:
    figures = {f"present__{field.name}": present.get(field.name, 1) for field in SITES.fields}
    return Shape.observed(SITES, {**figures, "rescued_kinds": rescued})


def _batch(seq: int, shape: Shape) -> Batch:
    plan = FilePlan(f"sites_{seq}.xlsx", "0" * 64, 0, None)
    return Batch(f"water_sites-{seq:06d}", "water_sites", seq, "committed", plan, shape=shape.to_json())


def test_a_shape_holds_declared_types_and_the_kinds_of_kept_aside_values():
    shape = _observed("latitude:string\noperator:string\nnotes:object", region=0)
    assert shape.fields["latitude"] == ("double", "string")
    assert shape.new_fields(SITES) == ["notes", "operator"]
    assert shape.missing_fields(SITES) == ["region"]
    assert shape.retyped_fields(SITES) == {"latitude": ("double", "string")}
    assert shape.strict_difference(SITES) == "field(s) not in the declaration: notes, operator"
    assert Shape.from_json(shape.to_json()) == shape
    assert _observed(latitude=0).missing_required(SITES) == ["latitude"]
    # A batch of records none of which could be read (undecodable, not a record) broke nothing.
    unreadable = {f"present__{field.name}": 0 for field in SITES.fields}
    assert Shape.observed(SITES, {**unreadable, "rescued_kinds": ""}).missing_required(SITES) == []


def test_a_header_names_the_columns_of_a_batch_even_without_values():
    figures = {f"present__{field.name}": 0 for field in SITES.fields} | {"present__site_id": 3, "rescued_kinds": ""}
    shape = Shape.observed(SITES, figures, header=["site_id", "latitude", "region", "operator"])
    assert shape.fields == {
        "latitude": ("double",),
        "operator": ("string",),
        "region": ("string",),
        "site_id": ("string",),
    }
    assert shape.new_fields(SITES) == ["operator"]
    assert "region" not in shape.missing_fields(SITES)


def test_the_history_tells_what_each_batch_brought_for_the_first_time():
    usual = _observed()
    batches = [
        _batch(1, usual),
        _batch(2, _observed(region=0)),  # a field every batch carried is gone
        _batch(3, usual),  # back: nothing new
        _batch(4, _observed(region=0)),  # gone again: told once
        _batch(5, _observed("operator:string\nlatitude:string")),
    ]
    told = [(batch.seq, lines) for batch, lines in history(batches)]
    assert told[0][0] == 1 and "  latitude (double)" in told[0][1]
    assert told[1:] == [(2, ["- region"]), (5, ["~ latitude: double → double, string", "+ operator (string)"])]


def test_a_schema_policy_comes_from_the_declaration_or_the_setting(monkeypatch):
    assert (get_source("transactions").schema_policy, get_source("sales").schema_policy) == ("evolve", "rescue")
    assert SITES.schema_policy == "strict"
    monkeypatch.setenv("LAKEHOUSE_WATER_SITES_SCHEMA_POLICY", "Evolve")
    assert SITES.schema_policy == "evolve"
    monkeypatch.setenv("LAKEHOUSE_WATER_SITES_SCHEMA_POLICY", "lenient")
    with pytest.raises(LakehouseError, match="LAKEHOUSE_WATER_SITES_SCHEMA_POLICY='lenient' is not a schema policy"):
        replace(SITES).schema_policy  # noqa: B018
