"""Where gold is published, configured from the environment (LAKEHOUSE_POSTGRES_URL)."""

from dagster import ConfigurableResource, EnvVar

from lakehouse.settings import POSTGRES_URL_VARIABLE, settings


class PostgresResource(ConfigurableResource):
    """The PostgreSQL that receives gold: a libpq URL, or empty for the project's own server."""

    database_url: str = ""

    def url(self) -> str:
        from lakehouse.serving.publish import target_url

        return self.database_url or target_url()


def postgres_resource() -> PostgresResource:
    # An EnvVar, not its value: the URL may hold a password, and Dagster's UI shows only the
    # variable's name. Unset, the project's own server is the target, its password (cluster mode)
    # read from the settings when publishing, never part of the resource's configuration.
    return PostgresResource(database_url=EnvVar(POSTGRES_URL_VARIABLE) if settings().postgres_url else "")
