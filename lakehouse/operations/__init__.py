"""Running the lakehouse over time: records of every dbt build, alerts, metrics and table maintenance."""
