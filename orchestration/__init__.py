"""The Dagster code location: ingestion and dbt assets in one graph, with checks, jobs, schedules and sensors."""
