"""The one exception type the CLI turns into a clear message and a non-zero exit."""

from __future__ import annotations


class LakehouseError(Exception):
    """An expected failure: says what failed and, in `hint`, what to do about it; the CLI exits
    with `exit_code`."""

    def __init__(self, message: str, hint: str = "", exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = exit_code

    def __str__(self) -> str:
        return f"{self.message}\nhint: {self.hint}" if self.hint else self.message


def service_lost() -> tuple[type[Exception], ...]:
    """What a call meets when the Spark server or a broker goes away under it (a restart): a loop
    that goes on (follow mode, a sensor) reports it in one line and tries again next time. Its
    Spark session ends with the server, and `connect()` then opens a new one. Imported here when
    asked: the CLI's start does not pay for Spark's and Kafka's clients."""
    from kafka.errors import KafkaError
    from pyspark.errors import PySparkException

    return (PySparkException, KafkaError, ConnectionError)


def first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
