"""The shape of a batch: which fields its records carried, with the types their values had.

Observed while the batch is written (`DataFrame.observe`, no second pass) and, for a batch that a
killed run wrote, from its records in bronze with the same expressions; recorded with the batch in
the ledger (`shape`), so that `lakehouse schema SOURCE` can show when a source changed. A declared
field with a value of its type counts as its declared type; every other value is in the record's
`_rescued` map, and counts as the kind of JSON value its text looks like.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyspark.sql import Column
from pyspark.sql import functions as F

from ingestion.sources import Source

if TYPE_CHECKING:
    from ingestion.ledger import Batch


def _kind(text: str) -> str:
    """SQL: the kind of JSON value the text `text` looks like, from its first character (it runs for
    every kept-aside value of a batch: no regular expression, no cast that fails by exception)."""
    first = f"left(ltrim({text}), 1)"
    return (
        f"case when {first} = '{{' then 'object' when {first} = '[' then 'array' "
        f"when {first} in ('-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9') then 'number' "
        f"when lower(trim({text})) in ('true', 'false') then 'boolean' "
        "else 'string' end"
    )


def _present(name: str) -> str:
    return f"present__{name}"


def metrics(source: Source) -> list[Column]:
    """Aggregates over a batch's written records: how many, how many bad, and its shape."""
    # One string, not an array: Spark Connect cannot send an observed array back. (`collect_set`
    # skips the records whose `_rescued` is null: most of them, at no cost.)
    kinds = F.expr(
        "array_join(array_sort(array_distinct(flatten(collect_set("
        f"transform(map_entries(_rescued), e -> concat(e.key, ':', {_kind('e.value')})))))), '\\n')"
    )
    return [
        F.count(F.lit(1)).alias("records"),
        F.count("_reason").alias("bad"),
        kinds.alias("rescued_kinds"),
        *[F.count(field.name).alias(_present(field.name)) for field in source.fields],
    ]


@dataclass(frozen=True)
class Shape:
    """Per field seen in a batch, the types of its values (`long`, or kinds such as `string`)."""

    fields: dict[str, tuple[str, ...]]

    @classmethod
    def observed(cls, source: Source, values: Mapping[str, Any], header: Sequence[str] = ()) -> Shape:
        """The shape of the aggregates `metrics` observed; a table's `header` (CSV, Excel) names its
        columns even when no record of the batch has a value in one (a declared column counts as
        its type, another as text)."""
        get = values.__getitem__
        seen: dict[str, set[str]] = {}
        for field in source.fields:
            if get(_present(field.name)):
                seen.setdefault(field.name, set()).add(field.type)
        for entry in (get("rescued_kinds") or "").splitlines():
            name, _, kind = entry.rpartition(":")
            seen.setdefault(name, set()).add(kind)
        declared = {field.name: field.type for field in source.fields}
        for column in filter(None, header):  # a column without a name holds nothing to name
            seen.setdefault(column, {declared.get(column, "string")})
        return cls({name: tuple(sorted(types)) for name, types in sorted(seen.items())})

    def to_json(self) -> str:
        return json.dumps({name: list(types) for name, types in self.fields.items()}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | None) -> Shape | None:
        if not text:
            return None
        return cls({name: tuple(types) for name, types in json.loads(text).items()})

    def new_fields(self, source: Source) -> list[str]:
        declared = {field.name for field in source.fields}
        return [name for name in self.fields if name not in declared]

    def missing_fields(self, source: Source) -> list[str]:
        return [field.name for field in source.fields if field.name not in self.fields]

    def missing_required(self, source: Source) -> list[str]:
        """Required fields none of the batch's records carried while they carried others: the
        source broke its declaration. (A batch none of whose records could be read at all, such
        as undecodable bytes, carried no field: that is a different failure, with its reasons.)"""
        if not self.fields:
            return []
        return [name for name in self.missing_fields(source) if name in source.required]

    def retyped_fields(self, source: Source) -> dict[str, tuple[str, ...]]:
        """Declared fields some of whose values were not of the declared type: the types seen."""
        return {
            field.name: self.fields[field.name]
            for field in source.fields
            if field.name in self.fields and self.fields[field.name] != (field.type,)
        }

    def strict_difference(self, source: Source) -> str | None:
        """What the `strict` policy refuses in the batch (None: nothing): fields the declaration
        lacks. A declared field missing is judged per record, as under every policy."""
        new = self.new_fields(source)
        return f"field(s) not in the declaration: {', '.join(new)}" if new else None


class ShapeHistory:
    """A source's shapes batch after batch, told as what each batch brought for the first time: a
    field never seen before (`+ field (types)`), a type a field never had (`~ field: long → long,
    string`), or the absence of a field that every batch before it carried (`- field`). A stream
    whose optional fields come and go batch by batch is not told again each time."""

    def __init__(self) -> None:
        self.types: dict[str, set[str]] = {}
        self.always: set[str] | None = None

    def add(self, shape: Shape) -> list[str]:
        """What the shape brings (nothing: the same source as before)."""
        if self.always is None:
            lines = [f"  {name} ({', '.join(types)})" for name, types in shape.fields.items()]
        else:
            lines = [f"- {name}" for name in sorted(self.always - shape.fields.keys())]
            for name, types in shape.fields.items():
                if name not in self.types:
                    lines.append(f"+ {name} ({', '.join(types)})")
                elif new := set(types) - self.types[name]:
                    lines.append(
                        f"~ {name}: {', '.join(sorted(self.types[name]))} → {', '.join(sorted(self.types[name] | new))}"
                    )
        for name, types in shape.fields.items():
            self.types.setdefault(name, set()).update(types)
        self.always = set(shape.fields) if self.always is None else self.always & shape.fields.keys()
        return lines


def history(batches: list[Batch]) -> list[tuple[Batch, list[str]]]:
    """The batches that changed the source's shape (the first one included), oldest first, each
    with what it brought: a source's schema history."""
    told = ShapeHistory()
    changed: list[tuple[Batch, list[str]]] = []
    for batch in sorted(batches, key=lambda b: b.seq):
        shape = Shape.from_json(batch.shape)
        if shape is not None and (lines := told.add(shape)):
            changed.append((batch, lines))
    return changed
