"""The local services of the lakehouse (Kafka brokers, the Spark server and cluster, PostgreSQL, HDFS,
S3, the jars they need) and the long-running programs the CLI starts, stopped whole."""
