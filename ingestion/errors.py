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
