"""Gold published to PostgreSQL after each build, for OLAP and BI tools."""

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset

from lakehouse.serving.publish import publish
from orchestration.bronze.resources import SparkResource
from orchestration.serving.resources import PostgresResource
from orchestration.transform.assets import lakehouse_dbt_models
from orchestration.transform.automation import follows_its_inputs

GOLD = sorted(
    (key for key, group in lakehouse_dbt_models.group_names_by_key.items() if group == "gold"),
    key=lambda key: key.to_user_string(),
)


@asset(
    key=AssetKey(["postgres", "gold"]),
    group_name="serving",
    deps=[*GOLD, AssetKey(["ledger", "ingestion_batches"])],
    automation_condition=follows_its_inputs(),
    pool="postgres_publish",
    description="Every gold table and the batch ledger, copied into PostgreSQL (schemas gold and bronze); "
    "each table swapped in by one transaction, so publishing twice gives the same rows.",
)
def postgres_gold(
    context: AssetExecutionContext, spark: SparkResource, postgres: PostgresResource
) -> MaterializeResult:
    published = publish(spark.session(), url=postgres.url())
    for table in published:
        context.log.info(f"{table.table}: {table.rows} rows in {table.seconds:.1f}s")
    return MaterializeResult(
        metadata={
            "tables": len(published),
            "rows": sum(t.rows for t in published),
            **{f"rows {t.table}": t.rows for t in published},
        }
    )
