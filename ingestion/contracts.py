"""A contract per source, readable outside the project: an Open Data Contract Standard (ODCS v3)
document generated from the source's declaration, kept in `contracts/<source>.odcs.yaml`.

The documents are generated, never edited by hand (`lakehouse contracts`); `lakehouse contracts
--check` compares the declarations with the committed documents and names every breaking change (a
field removed, retyped or newly required), so that CI catches a change that would break the
producers or the readers of a source. Writing a changed contract moves its semantic version: the
major for a breaking change, the minor for a new optional field, the patch for anything else (a
description, an alias).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from open_data_contract_standard.model import (
    CustomProperty,
    OpenDataContractStandard,
    SchemaObject,
    SchemaProperty,
    Synonym,
)

from ingestion.config import PROJECT_ROOT
from ingestion.sources import Source
from ingestion.validation import SPARK_TYPES

FOLDER = PROJECT_ROOT / "contracts"
API_VERSION = "v3.0.2"
LOGICAL_TYPES = {
    "string": "string",
    "json": "string",
    "long": "integer",
    "double": "number",
    "decimal": "number",
    "timestamp": "date",
    "date": "date",
    "boolean": "boolean",
}
"""ODCS logical types; the physical type is the bronze column's Spark type."""
FIRST_VERSION = "1.0.0"


def path_of(source: Source) -> Path:
    return FOLDER / f"{source.name}.odcs.yaml"


def contract(source: Source, version: str = FIRST_VERSION) -> OpenDataContractStandard:
    """The source's declaration as an ODCS data contract (its `bronze.<source>` view)."""
    where = {"kind": source.kind, "format": source.format} | ({"topic": source.topic} if source.topic else {})
    return OpenDataContractStandard(
        apiVersion=API_VERSION,
        kind="DataContract",
        id=f"lakehouse-{source.name}",
        name=source.name,
        version=version,
        status="active",
        domain="lakehouse",
        schema=[
            SchemaObject(
                name=source.name,
                physicalName=source.table,
                physicalType="view",
                logicalType="object",
                description=source.description,
                properties=[_property(field) for field in source.fields],
            )
        ],
        customProperties=[
            CustomProperty(property="schemaPolicy", value=source.declared_schema_policy),
            *(CustomProperty(property=name, value=value) for name, value in where.items()),
        ],
    )


def _property(field) -> SchemaProperty:  # noqa: ANN001  (a declared Field)
    options = {"format": field.timestamp_format} if field.timestamp_format else None
    return SchemaProperty(
        name=field.name,
        logicalType=LOGICAL_TYPES[field.type],
        logicalTypeOptions=options,
        physicalType=SPARK_TYPES[field.type].simpleString() + (" (JSON text)" if field.type == "json" else ""),
        required=field.required,
        synonyms=[Synonym(synonym=alias) for alias in field.aliases] or None,
    )


def committed(source: Source) -> OpenDataContractStandard | None:
    path = path_of(source)
    return contract_of(path.read_text()) if path.exists() else None


def contract_of(text: str) -> OpenDataContractStandard:
    return OpenDataContractStandard.from_string(text)


def render(source: Source) -> str:
    """The source's contract as it should be committed: at the committed version when the declaration
    did not change, at the next one when it did."""
    before = committed(source)
    if before is None:
        return contract(source).to_yaml()
    unchanged = contract(source, version_of(before))
    return contract(source, next_version(before, unchanged)).to_yaml()


def version_of(document: OpenDataContractStandard) -> str:
    return document.version or FIRST_VERSION


def next_version(before: OpenDataContractStandard, after: OpenDataContractStandard) -> str:
    """Semantic versioning of a contract: `after` is the declaration rendered at `before`'s version."""
    if after.to_yaml() == before.to_yaml():
        return version_of(before)
    major, minor, patch = (int(part) for part in version_of(before).split("."))
    if breaking_changes(before, after):
        return f"{major + 1}.0.0"
    if set(_fields(after)) - set(_fields(before)):
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


@dataclass(frozen=True)
class Check:
    source: str
    breaking: list[str]
    """What would break the source's producers or readers against its committed contract."""
    outdated: bool
    """The committed document differs from the declaration (breaking or not)."""


def check(source: Source) -> Check:
    """The declaration against the committed contract (a source without one: every field is new)."""
    before = committed(source)
    if before is None:
        return Check(source.name, [], outdated=True)
    return Check(
        source.name,
        breaking_changes(before, contract(source, version_of(before))),
        outdated=path_of(source).read_text() != render(source),
    )


def breaking_changes(before: OpenDataContractStandard, after: OpenDataContractStandard) -> list[str]:
    """Fields removed, retyped or newly required from `before` to `after` (a new optional field,
    a field no longer required, a new alias or description break no one)."""
    old, new = _fields(before), _fields(after)
    changes = [f"{name}: removed" for name in old if name not in new]
    for name, field in new.items():
        if name not in old:
            if field.required:
                changes.append(f"{name}: new and required")
            continue
        was = old[name]
        if (was.physicalType, was.logicalType) != (field.physicalType, field.logicalType):
            changes.append(f"{name}: {was.physicalType} → {field.physicalType}")
        if field.required and not was.required:
            changes.append(f"{name}: now required")
    return changes


def _fields(document: OpenDataContractStandard) -> dict[str, SchemaProperty]:
    return {p.name or "": p for schema in document.schema_ or [] for p in schema.properties or []}
