"""Gold checked from outside dbt: every table recomputed by DuckDB from the raw inputs
(`recompute.py`, its rules in `sql/`), and order-independent checksums of gold (`checksums.py`)."""
