"""dbt: staging, silver and gold as assets, their tests as checks, following bronze by themselves."""
