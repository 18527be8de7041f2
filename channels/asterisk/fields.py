"""Header values as Asterisk writes them, read leniently (a bad value is absent, never an exception)."""
from __future__ import annotations


def as_name(value: str | None) -> str | None:
    return None if not value or value == "<unknown>" else value


def as_int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def as_float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
