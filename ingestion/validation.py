"""Type and check staged records in Spark, the same way for every source and format.

Staged records carry their raw text and, for formats split in Python, their fields as strings.
JSON is parsed here (fast, in the server). Every field is cast with `try_*` functions; a record
whose required field is missing, whose value has the wrong type, or whose JSON is invalid gets a
reason, and goes to quarantine instead of bronze. Under the `rescue` and `evolve` schema policies an
optional field's value of the wrong type goes to the record's `_rescued` map instead, with every
field the declaration does not know (see `Source.declared_schema_policy`).
"""

from __future__ import annotations

import functools
import operator

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from ingestion.sources import Field, Source

DECIMAL = T.DecimalType(18, 4)

SPARK_TYPES: dict[str, T.DataType] = {
    "string": T.StringType(),
    "json": T.StringType(),
    "long": T.LongType(),
    "double": T.DoubleType(),
    "decimal": DECIMAL,
    "timestamp": T.TimestampType(),
    "date": T.DateType(),
    "boolean": T.BooleanType(),
}

_TYPE_WORDS = {
    "long": "an integer",
    "double": "a number",
    "decimal": "a decimal number",
    "timestamp": "a timestamp",
    "date": "a date",
    "boolean": "a boolean",
}


def typed_columns(source: Source) -> list[tuple[str, T.DataType]]:
    return [(field.name, SPARK_TYPES[field.type]) for field in source.fields]


def _cast(field: Field, text: Column) -> Column:
    if field.type in ("string", "json"):
        return text
    if field.type == "timestamp":
        parsed = F.try_to_timestamp(text)
        if field.timestamp_format:
            parsed = F.coalesce(F.try_to_timestamp(text, F.lit(field.timestamp_format)), parsed)
        return parsed
    if field.type == "date":
        return F.coalesce(text.try_cast("date"), F.to_date(F.try_to_timestamp(text)))
    if field.type in ("decimal", "double"):
        # European exports write decimal commas ("129,90"); a lone comma between digits is one.
        text = F.when(text.contains(","), F.regexp_replace(text, r"^(-?\d+),(\d+)$", "$1.$2")).otherwise(text)
    return text.try_cast(SPARK_TYPES[field.type])


def validate(source: Source, staged: DataFrame) -> DataFrame:
    """Add the typed fields, `_rescued` and `_reason` (null for a good record) to a staged batch.

    Three projections, each reading the columns of the one before, so that every field is
    parsed and cast once per record (one big expression would repeat them).
    """
    lineage = [
        name for name in staged.columns if name.startswith("_") and name not in ("_fields", "_error", "_json", "_extra")
    ]
    known = sorted({name for field in source.fields for name in (field.name, *field.aliases)})
    if source.format == "json":
        # One parse per record: every field as text, and the record itself when it is not a
        # JSON object (malformed, an array, a bare value) in `_corrupt_record`.
        string_schema = T.StructType(
            [T.StructField(name, T.StringType()) for name in known] + [T.StructField("_corrupt_record", T.StringType())]
        )
        staged = staged.withColumn(
            "_json", F.from_json("_raw", string_schema, {"columnNameOfCorruptRecord": "_corrupt_record"})
        )
        parsed = F.col("_json")
        texts = {
            field.name: F.coalesce(*[parsed.getField(name) for name in (field.name, *field.aliases)])
            for field in source.fields
        }
        json_ok = parsed.getField("_corrupt_record").isNull() & F.col("_raw").isNotNull()
    else:
        texts = {field.name: F.col("_fields").getItem(field.name) for field in source.fields}
        json_ok = F.lit(True)
    as_text = staged.select(
        *lineage,
        F.col("_error"),
        json_ok.alias("_json_ok"),
        *([unknown.alias("_unknown")] if (unknown := _unknown_fields(source, staged, known)) is not None else []),
        *[F.nullif(F.trim(text), F.lit("")).alias(f"_text_{name}") for name, text in texts.items()],
    )
    typed = as_text.select(
        "*", *[_cast(field, F.col(f"_text_{field.name}")).alias(field.name) for field in source.fields]
    )

    lenient = source.schema_policy != "strict"
    problems: list[Column] = [F.col("_error"), F.when(~F.col("_json_ok"), F.lit("invalid JSON (not a JSON object)"))]
    rescued: dict[str, Column] = {}
    for field in source.fields:
        text, value = F.col(f"_text_{field.name}"), F.col(field.name)
        if field.required:
            problems.append(F.when(text.isNull(), F.lit(f"missing required field {field.name}")))
        if field.type not in _TYPE_WORDS:
            continue
        mismatch = text.isNotNull() & value.isNull()
        if lenient and not field.required:
            rescued[field.name] = F.when(mismatch, text)
        else:
            problems.append(
                F.when(
                    mismatch,
                    F.concat(
                        F.lit(f'{field.name} "'), F.substring(text, 1, 80), F.lit(f'" is not {_TYPE_WORDS[field.type]}')
                    ),
                )
            )
    # The first problem that applies is the reason: it is the root cause (a record that is not
    # JSON is also missing every required field).
    return typed.select(
        *[F.col(field.name) for field in source.fields],
        *lineage,
        _rescued(F.col("_unknown") if unknown is not None else None, rescued).alias("_rescued"),
        F.coalesce(*problems).alias("_reason"),
    )


def _no_fields() -> Column:
    return F.create_map().cast("map<string,string>")


def _unknown_fields(source: Source, staged: DataFrame, known: list[str]) -> Column | None:
    """The record's fields that the declaration does not know, with their text (null values left
    out): the keys of a JSON object, the columns of a CSV header or a workbook. None when the
    staged batch cannot have any (a log line, a CSV whose header the source declares whole)."""
    declared = F.array(*[F.lit(name) for name in known])
    if source.format == "json":
        unknown = F.size(F.array_except(F.json_object_keys("_raw"), declared)) > 0
        # The second parse only for the rare record that has such a field. (The lambda names only
        # literals: an expression of the record there would be computed again for every entry.)
        every = F.from_json("_raw", "map<string,string>")
        return F.when(unknown, F.map_filter(every, lambda k, v: ~F.array_contains(declared, k) & v.isNotNull()))
    if "_extra" in staged.columns:  # a CSV split by Spark whose header has other columns
        return F.map_filter("_extra", lambda _, v: v.isNotNull())
    if isinstance(staged.schema["_fields"].dataType, T.MapType):  # split in Python: every column
        return F.map_filter("_fields", lambda k, v: ~F.array_contains(declared, k) & v.isNotNull())
    return None


def _rescued(unknown: Column | None, mismatched: dict[str, Column]) -> Column:
    """Unknown fields and values of the wrong type (`mismatched`: per field, its text where it is
    of the wrong type) in one map, null when there is none. Maps are built only for the records
    that have something to keep: a constant null when no record of the batch can."""
    if unknown is None and not mismatched:
        return F.lit(None).cast("map<string,string>")
    if unknown is not None and not mismatched:
        return unknown  # null where a record has no unknown field
    entries = F.create_map(*[part for name, text in mismatched.items() for part in (F.lit(name), text)])
    some = functools.reduce(operator.or_, [text.isNotNull() for text in mismatched.values()])
    retyped = F.when(some, F.map_filter(entries, lambda _, v: v.isNotNull()))
    if unknown is None:
        return retyped
    return F.when(
        some | unknown.isNotNull(), F.map_concat(F.coalesce(unknown, _no_fields()), F.coalesce(retyped, _no_fields()))
    )
