"""Sample data for every source, and the Kafka producer that sends it."""
