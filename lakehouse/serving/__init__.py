"""What readers get: the served tables and their columns, the REST API, the dashboard, PostgreSQL
publishing and file exports."""
