"""Where gold is published, configured from the environment (LAKEHOUSE_POSTGRES_URL)."""

from dagster import ConfigurableResource

from ingestion.config import settings


class PostgresResource(ConfigurableResource):
    """The PostgreSQL that receives gold: a libpq URL, or empty for the project's own server."""

    database_url: str = ""

    def url(self) -> str:
        from lakehouse.serving.publish import target_url

        return self.database_url or target_url()


def postgres_resource() -> PostgresResource:
    return PostgresResource(database_url=settings().postgres_url)
