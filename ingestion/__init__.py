"""Python ingestion for the lakehouse: landing files and Kafka topics into bronze Delta tables."""
