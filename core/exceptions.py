from typing import Any


class ApplicationError(Exception):
    """A business rule said no. Views put ``message`` on the form; the API answers 400."""

    def __init__(self, message: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}
