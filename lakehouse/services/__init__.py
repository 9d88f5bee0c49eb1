"""The local services of the lakehouse: the Kafka broker and the Spark lakehouse server."""
