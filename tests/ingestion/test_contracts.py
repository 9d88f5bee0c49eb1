"""Each source's data contract (Open Data Contract Standard) follows its declaration, and a breaking
change to a declaration is caught before it lands (no service)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import jsonschema
import open_data_contract_standard
import pytest
import yaml

from ingestion import contracts
from ingestion.sources import SOURCES, Field, get_source
from lakehouse.cli import main

pytestmark = pytest.mark.fast


def test_the_committed_contracts_are_the_declarations_and_valid_odcs():
    schema = json.loads((Path(open_data_contract_standard.__file__).parent / "schema.json").read_text())
    for source in SOURCES.values():
        assert contracts.check(source) == contracts.Check(source.name, [], outdated=False), source.name
        document = yaml.safe_load(contracts.path_of(source).read_text())
        jsonschema.validate(document, schema)
        (table,) = document["schema"]
        assert table["physicalName"] == source.table
        assert [p["name"] for p in table["properties"]] == [f.name for f in source.fields]
        assert {p["name"] for p in table["properties"] if p["required"]} == set(source.required)


def _changed(*fields: Field):
    sales = get_source("sales")
    return contracts.breaking_changes(contracts.contract(sales), contracts.contract(replace(sales, fields=fields)))


def test_a_removed_retyped_or_newly_required_field_is_breaking_and_an_optional_one_is_not():
    sales = get_source("sales").fields
    by_name = {f.name: f for f in sales}
    assert _changed(*[f for f in sales if f.name != "segment"]) == ["segment: removed"]
    assert _changed(*[replace(f, type="string") if f.name == "quantite" else f for f in sales]) == [
        "quantite: bigint → string"
    ]
    assert _changed(*[replace(f, required=True) if f.name == "pays" else f for f in sales]) == ["pays: now required"]
    assert _changed(*sales, Field("canal", "string", required=True)) == ["canal: new and required"]
    assert _changed(*sales, Field("canal", "string")) == []
    assert _changed(*[replace(f, aliases=("pais",)) if f is by_name["pays"] else f for f in sales]) == []


def test_the_check_names_a_breaking_change_in_one_line(monkeypatch, capsys):
    sales = get_source("sales")
    retyped = replace(sales, fields=tuple(f for f in sales.fields if f.name != "client_nom"))
    monkeypatch.setitem(SOURCES, "sales", retyped)
    with pytest.raises(SystemExit) as done:
        main(["contracts", "--check"])
    assert done.value.code == 1
    error = capsys.readouterr().err
    assert "1 breaking change(s) against the committed contracts: sales: client_nom: removed" in error
    assert "Traceback" not in error


def test_writing_a_changed_contract_moves_its_semantic_version(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(contracts, "FOLDER", tmp_path)
    sales = get_source("sales")
    monkeypatch.setitem(SOURCES, "sales", sales)

    def write(fields) -> str:
        monkeypatch.setitem(SOURCES, "sales", replace(sales, fields=tuple(fields)))
        main(["contracts"])
        return yaml.safe_load(contracts.path_of(sales).read_text())["version"]

    assert write(sales.fields) == "1.0.0"
    assert "sales: new, 1.0.0" in capsys.readouterr().out
    assert write(sales.fields) == "1.0.0"  # written again unchanged: the same version, nothing rewritten
    assert "sales:" not in capsys.readouterr().out
    assert write([*sales.fields, Field("canal", "string")]) == "1.1.0"
    aliased = [
        replace(f, aliases=("pais",)) if f.name == "pays" else f for f in [*sales.fields, Field("canal", "string")]
    ]
    assert write(aliased) == "1.1.1"
    assert write([f for f in aliased if f.name != "segment"]) == "2.0.0"
    assert "sales: 1.1.1 → 2.0.0" in capsys.readouterr().out
    assert contracts.check(SOURCES["sales"]) == contracts.Check("sales", [], outdated=False)
