"""What the store refuses, in words the HTTP layer can map once (404, 403, 409, 422)."""
from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


class StoreError(Exception):
    code = "store_error"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(StoreError):
    code = "not_found"


class Forbidden(StoreError):
    code = "forbidden"


class Conflict(StoreError):
    code = "conflict"


class Invalid(StoreError):
    code = "invalid"


def found(row: T | None, message: str) -> T:
    """`row`, or NotFound with `message` when the store has no such row."""
    if row is None:
        raise NotFound(message)
    return row
