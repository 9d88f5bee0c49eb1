"""Bronze: one ingestion asset per source, and the sensors that start it when data arrives."""
