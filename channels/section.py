"""What a channel's settings section is: a frozen pydantic model, checked when the settings load.

Gateway's `Settings` holds one of these per table (`[smtp]`, `[telegram]`, `[forms.<key>]`...), so a bad
value stops the start naming the key, and every value arrives typed. Values from the environment
(`SWITCHBOARD_SMTP__DOMAINS=a.example,b.example`) are strings; pydantic reads numbers and booleans
from them, and `Words` reads a comma-separated list.
"""
from __future__ import annotations

import json
from typing import Annotated, Any, Self

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, PrivateAttr, TypeAdapter, ValidationError
from pydantic_settings import NoDecode

class ChannelSection(BaseModel):
    """Unknown keys are errors (a typo would otherwise be ignored); values never change after start."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Phone numbers without a country code are read in the installation's [phone] region: the
    # service's setting, not the section's, so it is set when the channel is built (`in_region`).
    _region: str = PrivateAttr("RU")

    @property
    def region(self) -> str:
        return self._region

    def in_region(self, region: str) -> Self:
        copy = self.model_copy()
        copy._region = region
        return copy


def _words(value: Any) -> Any:
    if isinstance(value, str):
        if value.lstrip().startswith("["):      # a JSON list from the environment
            return json.loads(value)
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


# A list of strings; NoDecode keeps pydantic-settings from insisting that an environment value be JSON.
Words = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_words)]

def _http_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError("an http(s) URL expected")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]
# An http(s) URL that paths are appended to: without its trailing slash.
BaseUrl = Annotated[HttpUrl, AfterValidator(lambda value: value.rstrip("/"))]

# How pydantic's error types read in a settings message; others keep pydantic's own words.
_PLAIN = {"missing": "required", "extra_forbidden": "unknown setting"}


def describe(error: ValidationError, *where: str) -> str:
    """`smtp.listen: '2525' is not HOST:PORT; ...`: every problem with the dotted key it is about."""
    problems = []
    for problem in error.errors(include_url=False):
        key = ".".join((*where, *(str(part) for part in problem["loc"] if part != "[key]")))
        message = _PLAIN.get(problem["type"]) or problem["msg"]
        problems.append(f"{key}: {message}" if key else message)
    return "; ".join(problems)


def read_section(kind: Any, table: Any, where: str) -> Any:
    """One section (a model, or `Mailboxes`, `Forms`) read outside the service's settings (tests,
    benchmarks); ValueError names the key."""
    try:
        return TypeAdapter(kind).validate_python(table)
    except ValidationError as exc:
        raise ValueError(describe(exc, where)) from None
