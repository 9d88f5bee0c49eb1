"""The `column_rules` test (macros/tests/test_column_rules.sql): every rule of a model in one query,
one result row per broken rule with the rows that break it."""

from tests.conftest import dbt_cli, rows

RULES = (
    "{'id': ['unique', 'not_null'], 'qty': ['not_null', {'within_range': {'min_value': 1, 'max_value': 9}}], "
    "'price': ['non_negative'], 'status': [{'accepted_values': ['open', \"it's\"]}], "
    "'code': [{'relationships': {'to': api.Relation.create(schema='scratch', identifier='rule_codes'), 'field': 'code'}}]}, "
    "unique_combinations=[['qty', 'status']]"
)


def _compiled(rules: str) -> tuple[int, str]:
    call = f"{{{{ test_column_rules(api.Relation.create(schema='scratch', identifier='rule_breakers'), {rules}) }}}}"
    result = dbt_cli("compile", "--target", "local", "--no-populate-cache", "--quiet", "--inline", call)
    return result.returncode, result.stdout + result.stderr


def test_each_broken_rule_is_a_row_with_the_rows_that_break_it(spark):
    spark.sql("create schema if not exists scratch")
    spark.sql(
        "create or replace table scratch.rule_breakers using delta as select * from values "
        "(1, 5, 1.5, 'open', 'a'), (1, 0, 2.0, \"it's\", 'b'), (2, 10, -1.0, 'closed', 'z'), "
        "(null, null, null, null, null), (3, 12, 0.0, 'open', 'a'), (4, 5, 1.0, 'open', 'y') "
        "as t(id, qty, price, status, code)"
    )
    # The key `a` twice: a relationship joins distinct keys and multiplies no row the other rules count.
    spark.sql(
        "create or replace table scratch.rule_codes using delta as select * from values ('a'), ('a'), ('b') as t(code)"
    )
    returncode, sql = _compiled(RULES)
    assert returncode == 0, sql

    broken = set(rows(spark, sql))

    # Nulls break only not_null (a null combination is a value, as in a group by); a value seen twice is one
    # row beyond the first.
    assert broken == {
        ("id", "unique", 1),
        ("id", "not_null", 1),
        ("qty", "not_null", 1),
        ("qty", "within_range", 3),
        ("price", "non_negative", 1),
        ("status", "accepted_values", 1),
        ("code", "relationships", 2),
        ("qty, status", "unique_combination", 1),
    }
    spark.sql(
        "delete from scratch.rule_breakers where id is null or qty not between 1 and 9 or price < 0 or code > 'b'"
    )
    assert rows(spark, sql) == []


def test_an_unknown_rule_is_a_compilation_error_naming_it():
    returncode, output = _compiled("{'qty': ['positive']}")

    assert returncode != 0
    assert "column_rules: unknown rule 'positive' on qty" in output


def test_reconciliation_with_bronze_fails_on_one_row_lost_and_one_invented(spark):
    """Counts alone would pass it: bronze 4 rows = silver 3 + rejects 1 on both sides."""
    spark.sql("create schema if not exists scratch")
    spark.sql(
        "create or replace table scratch.reconcile_bronze using delta as select * from values "
        "('b-1', 'f.csv', 2), ('b-1', 'f.csv', 3), ('b-1', 'f.csv', 4), ('b-2', 'f.csv', 2) "
        "as t(_batch_id, _source_file, _source_line)"
    )
    spark.sql(
        "create or replace table scratch.reconcile_silver using delta as select * from values "
        "('b-1', 'f.csv:3'), ('b-1', 'f.csv:4'), ('b-2', 'f.csv:2') as t(_batch_id, _record_position)"
    )
    spark.sql(
        "create or replace table scratch.reconcile_rejects using delta as select * from values "
        "('s', 'b-1', 'f.csv:2'), ('other', 'b-9', 'g.csv:7') as t(source_name, batch_id, record_position)"
    )
    relation = "api.Relation.create(schema='scratch', identifier='reconcile_{}')"
    call = (
        f"{{{{ test_reconciles_with_bronze({relation.format('silver')}, {relation.format('bronze')}, 's', 'file', "
        f"{relation.format('rejects')}) }}}}"
    )
    compiled = dbt_cli("compile", "--target", "local", "--no-populate-cache", "--quiet", "--inline", call)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    sql = compiled.stdout

    assert rows(spark, sql) == []
    # The row of line 4 lost, one of line 5 invented: the same counts.
    spark.sql("update scratch.reconcile_silver set _record_position = 'f.csv:5' where _record_position = 'f.csv:4'")
    assert rows(spark, sql) == [(4, 3, 1)]
