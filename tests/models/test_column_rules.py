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
