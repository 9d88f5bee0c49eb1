"""The application around the ingestion library, one package per concern, the `lakehouse` command
(`cli.py`) on top:

- `services/`: the local services (Kafka, the Spark server, PostgreSQL, HDFS, S3, jars) and the
  long-running programs the CLI starts;
- `samples/`: sample data and the Kafka producer;
- `build/`: dbt commands, what a build has to redo, follow mode, and what the CLI tells Dagster;
- `serving/`: the served tables, the REST API, the dashboard, PostgreSQL publishing and exports;
- `operations/`: records of every dbt build, alerts, metrics and table maintenance;
- `verify/`: gold recomputed by another engine, and gold checksums.

A package imports the ingestion library and the packages beside it, never the orchestration."""
