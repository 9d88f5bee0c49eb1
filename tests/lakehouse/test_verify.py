"""`lakehouse verify` on the built lakehouse (tests/lakehouse/conftest.py): the sample data and the malformed corpus, ingested
and built, agree with DuckDB's recomputation of every gold table; a changed gold value and a missing
gold row are caught. Everything through the CLI, as a user runs it."""

from __future__ import annotations

import pytest

from tests.ingestion.test_malformed_corpus import FILES
from tests.lakehouse.conftest import built_cli as _cli

pytestmark = pytest.mark.verify


def test_ingest_names_each_unreadable_file_and_lands_the_rest(built):
    ingest = built.run
    unreadable = [f"corpus_{case.name}" for case in FILES if case.unreadable]
    assert ingest.returncode == 1
    assert f"{len(unreadable)} file(s) could not be read" in ingest.stderr
    assert all(name in ingest.stderr for name in unreadable)
    assert "Traceback" not in ingest.stderr
    assert "sales: " in ingest.stdout and "transactions: " in ingest.stdout  # every source was ingested


def test_gold_agrees_with_the_recomputation_and_a_difference_is_caught(built):
    verified = _cli("verify")
    assert verified.returncode == 0, verified.stdout[-4000:] + verified.stderr[-2000:]
    assert "every gold table agrees with the recomputation" in verified.stdout
    lines = {
        line.split()[0]: line.split()[1:]
        for line in verified.stdout.splitlines()
        if line.startswith(("fct_", "agg_", "dim_"))
    }
    assert len(lines) == 13
    gold_rows, recomputed, equal, different, only_gold, only_recomputed = map(int, lines["fct_order_lines"])
    assert gold_rows == recomputed == equal > 1000 and different == only_gold == only_recomputed == 0

    changed = _cli(
        "sql",
        "-e",
        "update gold.fct_order_lines set amount_eur = amount_eur + 0.01 where order_line_id = 'T-T1'; "
        "delete from gold.dim_products where product_id = 101",
    )
    assert changed.returncode == 0, changed.stderr[-2000:]
    caught = _cli("verify")
    assert caught.returncode == 1
    assert "fct_order_lines: T-T1: amount_eur: 2.51 (gold) vs 2.5" in caught.stdout
    assert "dim_products: 101: only recomputed" in caught.stdout
    assert "2 gold table(s) differ from the recomputation: dim_products, fct_order_lines" in caught.stderr


def test_fields_the_sources_gained_reach_staging_and_values_kept_aside_stay_in_bronze(built):
    from tests.lakehouse.conftest import built_sql

    # The corpus's transactions export with a `note` column, and a post with a `mood` (schema policy evolve).
    notes = built_sql("select transaction_id, note from staging.stg_transactions__order_lines where note is not null")
    assert notes == [("T22", "hello")]
    assert built_sql("select mood from staging.stg_social_posts__posts where post_id = 'CP8'") == [("happy",)]
    # A count that is not a number: the post lands, the count is missing (0 in silver), its text kept in bronze.
    assert built_sql("select likes, _rescued['likes'] from bronze.social_posts where post_id = 'CP9'") == [
        (None, "many")
    ]
    assert built_sql("select likes from silver.slv_social__posts where post_id = 'CP9'") == [(0,)]
    assert built_sql("select count(*) from bronze.quarantine where raw like '%\"CP9\"%'") == [(0,)]
