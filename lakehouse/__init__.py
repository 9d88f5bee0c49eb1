"""The application around the ingestion library: the `lakehouse` command, the local service
supervisor (Kafka, the Spark server, jars), and the sample data with its producer."""
