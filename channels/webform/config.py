"""What one web form accepts: field names, limits, spam and signature checks; built from `[forms.<key>]`."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

# The fields a form submission is read into; everything else a form posts is kept as an attribute.
CANONICAL_FIELDS = ("name", "phone", "email", "message", "submission_id")

# Names real websites use for the same thing (Tilda, Contact Form 7, Bitrix, hand-written HTML).
DEFAULT_FIELD_MAP: Mapping[str, str] = MappingProxyType({
    "name": "name", "fio": "name", "full_name": "name", "fullname": "name", "your-name": "name",
    "your_name": "name", "client_name": "name", "contact_name": "name",
    "phone": "phone", "tel": "phone", "telephone": "phone", "phone_number": "phone", "phonenumber": "phone",
    "mobile": "phone", "your-phone": "phone", "your_phone": "phone", "whatsapp": "phone",
    "email": "email", "e-mail": "email", "e_mail": "email", "mail": "email", "your-email": "email",
    "your_email": "email",
    "message": "message", "comment": "message", "comments": "message", "text": "message",
    "question": "message", "msg": "message", "your-message": "message", "your_message": "message",
    "submission_id": "submission_id",
})

_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True, slots=True)
class FormConfig:
    """One public form; `key` is the `{form_key}` in `/forms/{form_key}`."""

    key: str
    title: str = "Contact us"
    success_message: str = "Thank you! We will get back to you shortly."
    # Posted field name (matched case-insensitively) -> canonical field.
    field_map: Mapping[str, str] = field(default_factory=lambda: DEFAULT_FIELD_MAP)
    # Canonical fields that must all be present, and groups of which at least one must be.
    required: tuple[str, ...] = ()
    require_any: tuple[str, ...] = ("phone", "email")
    # A field humans never see; bots fill every input they find.
    honeypot: str | None = "website"
    hmac_secret: str | None = field(default=None, repr=False)   # never in logs
    require_signature: bool = False
    allowed_origins: tuple[str, ...] = ("*",)
    max_body_bytes: int = 64 * 1024
    max_message_chars: int = 5000
    max_field_chars: int = 200
    max_extra_fields: int = 30
    rate_per_minute: float = 10.0
    burst: int = 5
    priority: int = 0
    source: str | None = None

    def __post_init__(self) -> None:
        where = f"forms.{self.key}"
        if not _KEY.match(self.key):
            raise ValueError(f"{where}: a form key is 1-64 letters, digits, '-' or '_'")
        for posted, canonical in self.field_map.items():
            if canonical not in CANONICAL_FIELDS:
                raise ValueError(f"{where}.field_map: {posted!r} maps to {canonical!r}, "
                                 f"which is not one of {', '.join(CANONICAL_FIELDS)}")
        for name in (*self.required, *self.require_any):
            if name not in CANONICAL_FIELDS:
                raise ValueError(f"{where}: required field {name!r} is not one of {', '.join(CANONICAL_FIELDS)}")
        if self.require_signature and not self.hmac_secret:
            raise ValueError(f"{where}: require_signature needs hmac_secret")
        if not self.allowed_origins:
            raise ValueError(f"{where}.allowed_origins: list at least one origin, or \"*\"")
        for name in ("max_body_bytes", "max_message_chars", "max_field_chars", "burst"):
            if getattr(self, name) < 1:
                raise ValueError(f"{where}.{name} must be at least 1")
        if self.max_extra_fields < 0:
            raise ValueError(f"{where}.max_extra_fields must not be negative")
        if self.rate_per_minute <= 0:
            raise ValueError(f"{where}.rate_per_minute must be positive")
        # Lower-case the lookup once so "Phone" and "PHONE" from sloppy HTML both match.
        object.__setattr__(self, "field_map", MappingProxyType({k.lower(): v for k, v in self.field_map.items()}))

    def canonical(self, posted: str) -> str | None:
        """The canonical field a posted field name fills, or None for an extra field."""
        return self.field_map.get(posted.strip().lower())

    def origin_allowed(self, origin: str) -> bool:
        return "*" in self.allowed_origins or origin in self.allowed_origins


DEFAULT_FORM = FormConfig(key="default")

_INTS = {"max_body_bytes", "max_message_chars", "max_field_chars", "max_extra_fields", "burst", "priority"}
_FLOATS = {"rate_per_minute"}
_BOOLS = {"require_signature"}
_TUPLES = {"required", "require_any", "allowed_origins"}
_OPTIONAL_STRS = {"honeypot", "hmac_secret", "source"}
_STRS = {"title", "success_message"}
_SETTINGS = tuple(f.name for f in fields(FormConfig) if f.name != "key")


def form_from_mapping(key: str, table: Mapping[str, Any]) -> FormConfig:
    """Build one form from a `[forms.<key>]` table; values from the environment may be strings."""
    if not isinstance(table, Mapping):
        raise ValueError(f"forms.{key}: expected a table of settings, got {type(table).__name__}")
    kwargs: dict[str, Any] = {}
    for name, value in table.items():
        where = f"forms.{key}.{name}"
        if name not in _SETTINGS:
            raise ValueError(f"forms.{key}: unknown setting {name!r} (known: {', '.join(_SETTINGS)})")
        if name == "field_map":
            if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                         for k, v in value.items()):
                raise ValueError(f"{where}: expected a table of posted name = canonical field")
            # Site-specific names add to the common aliases rather than replace them.
            kwargs[name] = {**DEFAULT_FIELD_MAP, **value}
        elif name in _INTS:
            kwargs[name] = _int(where, value)
        elif name in _FLOATS:
            kwargs[name] = _float(where, value)
        elif name in _BOOLS:
            kwargs[name] = _bool(where, value)
        elif name in _TUPLES:
            kwargs[name] = _tuple(where, value)
        elif name in _OPTIONAL_STRS:
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{where}: expected a string")
            kwargs[name] = value or None
        elif name in _STRS:
            if not isinstance(value, str):
                raise ValueError(f"{where}: expected a string")
            kwargs[name] = value
    return FormConfig(key=key, **kwargs)


def forms_from_mapping(tables: Mapping[str, Mapping[str, Any]] | None) -> dict[str, FormConfig]:
    """All forms: the `default` form out of the box, plus (or overridden by) the configured tables."""
    forms = {"default": DEFAULT_FORM}
    for key, table in (tables or {}).items():
        forms[key] = form_from_mapping(key, table)
    return forms


def _int(where: str, value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{where}: expected a number, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError(f"{where}: expected a whole number, got {value!r}")


def _float(where: str, value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise ValueError(f"{where}: expected a number, got {value!r}")


def _bool(where: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "1", "yes", "on", "false", "0", "no", "off"}:
        return value.strip().lower() in {"true", "1", "yes", "on"}
    raise ValueError(f"{where}: expected true or false, got {value!r}")


def _tuple(where: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        # "a, b" from an environment variable.
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise ValueError(f"{where}: expected a list of strings, got {value!r}")


