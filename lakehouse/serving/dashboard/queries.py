"""What the dashboard shows, as queries over the lakehouse (Spark Connect), each returning pandas.

Filter values reach Spark as query parameters (`spark.sql(..., args=...)`), never as SQL text. The
figures are computed from gold (and, for data health, from the ledger, the quarantine and dbt's
own results) exactly as a user would query them, so a test can check them the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pandas as pd
from pyspark.sql import SparkSession

from ingestion.batch_status import BatchStatus
from ingestion.tables import BATCH_INPUT
from lakehouse.build.dbt import target_dir


@dataclass(frozen=True)
class CommerceFilter:
    start: date | None = None
    end: date | None = None
    countries: tuple[str, ...] = ()
    products: tuple[int, ...] = ()

    def where(self) -> tuple[str, dict]:
        """A `where` clause over `fct_order_lines` (alias `f`) and its parameters."""
        clauses, args = ["f.is_revenue"], {}
        if self.start:
            clauses.append("f.order_date >= cast(:start as date)")
            args["start"] = self.start.isoformat()
        if self.end:
            clauses.append("f.order_date <= cast(:end as date)")
            args["end"] = self.end.isoformat()
        if self.countries:
            clauses.append("array_contains(:countries, f.country_code)")
            args["countries"] = list(self.countries)
        if self.products:
            clauses.append("array_contains(:products, f.product_id)")
            args["products"] = list(self.products)
        return " and ".join(clauses), args


def _pandas(spark: SparkSession, sql: str, args: dict | None = None) -> pd.DataFrame:
    return spark.sql(sql, args=args or None).toPandas()


def commerce_kpis(spark: SparkSession, where: CommerceFilter) -> dict:
    """Revenue, sales (revenue order lines), average basket and the top customer by spend."""
    clause, args = where.where()
    totals = _pandas(
        spark,
        f"""
        select coalesce(sum(f.amount_eur), 0) as revenue_eur, count(*) as sales,
               cast(coalesce(sum(f.amount_eur), 0) / nullif(count(*), 0) as decimal(18, 2)) as avg_basket_eur
        from gold.fct_order_lines f where {clause}""",
        args,
    ).iloc[0]
    top = _pandas(
        spark,
        f"""
        select f.customer_id, coalesce(c.customer_name, concat('customer ', f.customer_id)) as customer_name,
               sum(f.amount_eur) as spend_eur
        from gold.fct_order_lines f left join gold.dim_customers c on c.customer_id = f.customer_id
        where {clause} and f.customer_id is not null
        group by f.customer_id, c.customer_name order by spend_eur desc, f.customer_id limit 1""",
        args,
    )
    return {
        "revenue_eur": totals.revenue_eur,
        "sales": int(totals.sales),
        "avg_basket_eur": totals.avg_basket_eur,
        "top_customer": None if top.empty else top.iloc[0].customer_name,
        "top_customer_spend_eur": None if top.empty else top.iloc[0].spend_eur,
    }


def commerce_choices(spark: SparkSession) -> tuple[pd.DataFrame, list[str], tuple[date, date] | None]:
    products = _pandas(spark, "select product_id, product_name from gold.dim_products order by product_name")
    countries = _pandas(
        spark, "select distinct country_code from gold.fct_order_lines where country_code is not null order by 1"
    )
    # As text: Delta answers a bare min/max of a date from its statistics, which Spark Connect
    # fails to return (ClassCastException LocalDate/java.sql.Date, Delta 4.0.1).
    span = _pandas(
        spark,
        "select min(cast(order_date as string)) as first, max(cast(order_date as string)) as last "
        "from gold.fct_order_lines",
    ).iloc[0]
    dates = None if span["first"] is None else (date.fromisoformat(span["first"]), date.fromisoformat(span["last"]))
    return products, list(countries.country_code), dates


def revenue_by_day(spark: SparkSession, where: CommerceFilter) -> pd.DataFrame:
    clause, args = where.where()
    return _pandas(
        spark,
        f"select f.order_date, f.channel, sum(f.amount_eur) as revenue_eur from gold.fct_order_lines f "
        f"where {clause} group by 1, 2 order by 1",
        args,
    )


def revenue_by_product(spark: SparkSession, where: CommerceFilter, top: int = 15) -> pd.DataFrame:
    clause, args = where.where()
    return _pandas(
        spark,
        f"""select coalesce(p.product_name, cast(f.product_id as string)) as product, p.category,
                   sum(f.amount_eur) as revenue_eur
            from gold.fct_order_lines f left join gold.dim_products p on p.product_id = f.product_id
            where {clause} group by 1, 2 order by revenue_eur desc limit {int(top)}""",
        args,
    )


def revenue_by_country_category_segment(spark: SparkSession, where: CommerceFilter) -> pd.DataFrame:
    clause, args = where.where()
    return _pandas(
        spark,
        f"""select coalesce(f.country_code, '(unknown)') as country, coalesce(p.category, 'Non classé') as category,
                   coalesce(c.customer_segment, '(unknown)') as segment, sum(f.amount_eur) as revenue_eur
            from gold.fct_order_lines f
            left join gold.dim_products p on p.product_id = f.product_id
            left join gold.dim_customers c on c.customer_id = f.customer_id
            where {clause} group by 1, 2, 3""",
        args,
    )


def customer_spend(spark: SparkSession) -> pd.DataFrame:
    return _pandas(
        spark,
        """select customer_id, coalesce(customer_segment, '(unknown)') as segment, purchase_count,
                  cast(total_spend_eur as double) as total_spend_eur
           from gold.agg_spend_by_customer""",
    )


def requests_by_status(spark: SparkSession) -> pd.DataFrame:
    return _pandas(
        spark,
        "select requested_hour, status_class, sum(requests) as requests from gold.agg_requests_by_status_hour "
        "group by 1, 2 order by 1",
    )


def error_rate(spark: SparkSession) -> pd.DataFrame:
    return _pandas(spark, "select * from gold.agg_error_rate_by_hour order by requested_hour")


def campaigns(spark: SparkSession) -> pd.DataFrame:
    return _pandas(
        spark,
        """select campaign_name, sum(impressions) as impressions, sum(clicks) as clicks,
                  sum(clicks) / nullif(sum(impressions), 0) as click_through_rate, sum(cost_eur) as cost_eur
           from gold.agg_ad_performance_by_campaign_day group by 1 order by cost_eur desc""",
    )


def engagement(spark: SparkSession) -> pd.DataFrame:
    return _pandas(spark, "select * from gold.agg_engagement_by_product order by total_engagements desc")


def water_quality(spark: SparkSession) -> pd.DataFrame:
    return _pandas(spark, "select * from gold.agg_water_quality_by_site_parameter_month order by sample_month")


def water_sites(spark: SparkSession) -> pd.DataFrame:
    return _pandas(
        spark,
        """select s.site_id, s.site_name, s.region, s.latitude, s.longitude,
                  coalesce(sum(g.samples_under_threshold + g.samples_over_threshold), 0)
                      as samples_outside_thresholds,
                  coalesce(sum(g.samples), 0) as samples
           from silver.slv_water__sites s
           left join gold.agg_water_quality_by_site_parameter_month g on g.site_id = s.site_id
           group by 1, 2, 3, 4, 5""",
    )


def device_events(spark: SparkSession) -> pd.DataFrame:
    return _pandas(
        spark,
        "select event_minute, event_type, sum(events) as events from gold.agg_device_events_by_type_minute "
        "group by 1, 2 order by 1",
    )


# -- data health ---------------------------------------------------------------------------


def freshness(spark: SparkSession) -> pd.DataFrame:
    """Per source: its last committed batch, how long ago, and what bronze holds."""
    return _pandas(
        spark,
        f"""select source, max(finished_at) as last_batch_at,
                  cast((unix_timestamp(current_timestamp()) - unix_timestamp(max(finished_at))) / 60 as decimal(18, 1))
                      as minutes_ago,
                  sum(rows_good) as rows_landed, sum(rows_bad) as rows_quarantined, count(*) as batches
           from bronze.ingestion_batches where status = '{BatchStatus.COMMITTED}' group by source order by source""",
    )


def last_batches(spark: SparkSession, per_source: int = 3) -> pd.DataFrame:
    return _pandas(
        spark,
        f"""select source, batch_id, status, started_at, rows_good, rows_bad, {BATCH_INPUT} as input, note
            from (select *, row_number() over (partition by source order by started_at desc) as recency
                  from bronze.ingestion_batches)
            where recency <= {int(per_source)} order by source, started_at desc""",
    )


def shape_changes(spark: SparkSession, hours: float = 24) -> pd.DataFrame:
    """The batches of the last `hours` that changed their source's shape, and what each brought
    (`lakehouse schema SOURCE` tells the whole history)."""
    from datetime import timedelta

    from ingestion.ledger import read_batches_of
    from ingestion.shapes import history
    from ingestion.sources import SOURCES

    since = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=hours)
    changes = [
        {"source": source, "batch_id": batch.batch_id, "started_at": batch.started_at, "change": "; ".join(lines)}
        for source, batches in read_batches_of(spark, list(SOURCES)).items()
        for n, (batch, lines) in enumerate(history(batches))
        if n > 0 and batch.started_at is not None and _naive_utc(batch.started_at) >= since
    ]
    return pd.DataFrame(changes, columns=["source", "batch_id", "started_at", "change"])


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def quarantine_reasons(spark: SparkSession, top: int = 10) -> pd.DataFrame:
    return _pandas(
        spark,
        f"""select source, regexp_replace(reason, '[0-9]+', 'N') as reason, count(*) as records
            from bronze.quarantine group by 1, 2 order by records desc limit {int(top)}""",
    )


def reject_reasons(spark: SparkSession, top: int = 10) -> pd.DataFrame:
    return _pandas(
        spark,
        f"""select source_name as source, regexp_extract(reject_reason, '^[^:]+', 0) as reason, count(*) as records
            from silver.slv_quality__rejects group by 1, 2 order by records desc limit {int(top)}""",
    )


def dbt_test_results() -> tuple[str | None, pd.DataFrame]:
    """The latest dbt run's tests (from its run_results.json): when, and one row per test."""
    path = target_dir() / "run_results.json"
    if not path.exists():
        return None, pd.DataFrame(columns=["test", "status", "failures"])
    results = json.loads(path.read_text())
    tests = [
        {"test": _test_name(r["unique_id"]), "status": r["status"], "failures": r.get("failures") or 0}
        for r in results.get("results", [])
        if r["unique_id"].startswith(("test.", "unit_test."))
    ]
    return results.get("metadata", {}).get("generated_at"), pd.DataFrame(tests, columns=["test", "status", "failures"])


def _test_name(unique_id: str) -> str:
    parts = unique_id.split(".")  # test.<project>.<name>.<hash>, unit_test.<project>.<model>.<name>
    return parts[-1] if parts[0] == "unit_test" else parts[2]


# -- silver ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SilverTable:
    name: str
    source: str
    key: str


def silver_tables() -> list[SilverTable]:
    """Each source's silver model and key, as the sources' YAML names them."""
    import yaml

    from ingestion.config import PROJECT_ROOT

    declared = yaml.safe_load((PROJECT_ROOT / "models" / "staging" / "_bronze__sources.yml").read_text())
    return [
        SilverTable(table["meta"]["silver_model"], table["name"], table["meta"]["key"])
        for source in declared["sources"]
        for table in source["tables"]
        if "silver_model" in table.get("meta", {})
    ]


@dataclass(frozen=True)
class SilverQuery:
    table: SilverTable
    column: str | None = None
    contains: str = ""
    page: int = 1
    page_size: int = 50

    def where(self, columns: list[str]) -> tuple[str, dict]:
        """A filter on one of the table's own columns (named in SQL only when it is one), its text as a parameter."""
        if self.column not in columns or not self.contains:
            return "", {}
        return f"where lower(cast(`{self.column}` as string)) like :pattern", {"pattern": f"%{self.contains.lower()}%"}


def silver_columns(spark: SparkSession, table: str) -> list[str]:
    return spark.table(f"silver.{table}").columns


def silver_count(spark: SparkSession, query: SilverQuery) -> int:
    where, args = query.where(silver_columns(spark, query.table.name))
    return spark.sql(f"select count(*) from silver.{query.table.name} {where}", args=args or None).collect()[0][0]


def silver_rows(spark: SparkSession, query: SilverQuery) -> pd.DataFrame:
    """One page of the rows matching the filter, by key."""
    where, args = query.where(silver_columns(spark, query.table.name))
    offset = (max(query.page, 1) - 1) * query.page_size
    return _pandas(
        spark,
        f"select * from silver.{query.table.name} {where} order by `{query.table.key}` "
        f"limit {int(query.page_size)} offset {int(offset)}",
        args,
    )


def silver_rejects(spark: SparkSession, source: str, latest: int = 50) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The source's rows silver does not hold: how many per reason, and the latest of them."""
    reasons = _pandas(
        spark,
        """select regexp_extract(reject_reason, '^[^:(]+', 0) as reason, count(*) as records
           from silver.slv_quality__rejects where source_name = :source group by 1 order by records desc""",
        {"source": source},
    )
    rows = _pandas(
        spark,
        f"""select record_key, reject_reason, batch_id, ingested_at from silver.slv_quality__rejects
            where source_name = :source order by ingested_at desc, record_key limit {int(latest)}""",
        {"source": source},
    )
    return reasons, rows


# -- operations ----------------------------------------------------------------------------------


def open_alerts(spark: SparkSession) -> pd.DataFrame:
    """The alerts not resolved yet (none before the first check)."""
    if not spark.catalog.tableExists("ops.alerts"):
        return pd.DataFrame(columns=["kind", "subject", "message", "raised_at"])
    return _pandas(
        spark, "select kind, subject, message, raised_at from ops.alerts where resolved_at is null order by raised_at"
    )


def slowest_nodes(spark: SparkSession, top: int = 15) -> pd.DataFrame:
    """The dbt nodes that took longest, on average over their last 20 runs."""
    return _pandas(
        spark,
        f"""select name, resource_type, avg(seconds) as mean_seconds, max(seconds) as max_seconds, count(*) as runs
            from (select *, row_number() over (partition by unique_id order by finished_at desc) as recency
                  from ops.dbt_nodes)
            where recency <= 20 group by 1, 2 order by mean_seconds desc limit {int(top)}""",
    )


def node_trend(spark: SparkSession, names: tuple[str, ...]) -> pd.DataFrame:
    return _pandas(
        spark,
        "select finished_at, name, seconds from ops.dbt_nodes where array_contains(:names, name) order by finished_at",
        {"names": list(names)},
    )


def build_durations(spark: SparkSession) -> pd.DataFrame:
    return _pandas(
        spark,
        "select finished_at, via, selection, seconds, models, tests_failed from ops.dbt_builds "
        "where command = 'build' order by finished_at",
    )


def batch_durations(spark: SparkSession) -> pd.DataFrame:
    return _pandas(
        spark,
        "select finished_at, name as source, seconds from ops.run_durations where kind = 'ingestion' "
        "order by finished_at",
    )
