"""What one web form accepts: field names, limits, spam and signature checks: the `[forms.<key>]` sections."""
from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, field_serializer, field_validator, model_validator

from channels.section import ChannelSection, Words

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


def _form_key(value: str) -> str:
    if not _KEY.match(value):
        raise ValueError("a form key is 1-64 letters, digits, '-' or '_'")
    return value


def _canonical_names(names: tuple[str, ...]) -> tuple[str, ...]:
    for name in names:
        if name not in CANONICAL_FIELDS:
            raise ValueError(f"required field {name!r} is not one of {', '.join(CANONICAL_FIELDS)}")
    return names


FormKey = Annotated[str, AfterValidator(_form_key)]
CanonicalNames = Annotated[Words, AfterValidator(_canonical_names)]
# An empty string switches an optional setting off, as leaving it out would.
OptionalText = Annotated[str | None, BeforeValidator(lambda value: value or None)]


class FormConfig(ChannelSection):
    """One public form; `key` is the `{form_key}` in `/forms/{form_key}` (the `<key>` of its table)."""

    key: FormKey = "default"
    title: str = "Contact us"
    success_message: str = "Thank you! We will get back to you shortly."
    # Posted field name (matched case-insensitively) -> canonical field.
    field_map: Mapping[str, str] = Field(default_factory=lambda: DEFAULT_FIELD_MAP, repr=False)
    # Canonical fields that must all be present, and groups of which at least one must be.
    required: CanonicalNames = ()
    require_any: CanonicalNames = ("phone", "email")
    # A field humans never see; bots fill every input they find.
    honeypot: OptionalText = "website"
    hmac_secret: OptionalText = Field(None, repr=False)   # never in logs
    require_signature: bool = False
    allowed_origins: Words = Field(("*",), min_length=1)   # list at least one origin, or "*"
    max_body_bytes: int = Field(64 * 1024, ge=1)
    max_message_chars: int = Field(5000, ge=1)
    max_field_chars: int = Field(200, ge=1)
    max_extra_fields: int = Field(30, ge=0)
    rate_per_minute: float = Field(10.0, gt=0)
    burst: int = Field(5, ge=1)
    priority: int = 0
    pipeline: str | None = None      # the funnel its new leads enter (a pipeline key); unset: the first
    source: OptionalText = None

    @field_validator("field_map")
    @classmethod
    def _known_targets(cls, value: Mapping[str, str]) -> Mapping[str, str]:
        for posted, canonical in value.items():
            if canonical not in CANONICAL_FIELDS:
                raise ValueError(f"{posted!r} maps to {canonical!r}, which is not one of {', '.join(CANONICAL_FIELDS)}")
        # Site-specific names add to the common aliases rather than replace them; lower-cased once
        # so that "Phone" and "PHONE" from sloppy HTML both match.
        return MappingProxyType({**DEFAULT_FIELD_MAP, **{k.lower(): v for k, v in value.items()}})

    @field_serializer("field_map")
    def _as_dict(self, value: Mapping[str, str]) -> dict[str, str]:
        return dict(value)

    @model_validator(mode="after")
    def _signature_has_a_secret(self) -> FormConfig:
        if self.require_signature and not self.hmac_secret:
            raise ValueError("require_signature needs hmac_secret")
        return self

    def canonical(self, posted: str) -> str | None:
        """The canonical field a posted field name fills, or None for an extra field."""
        return self.field_map.get(posted.strip().lower())

    def origin_allowed(self, origin: str) -> bool:
        return "*" in self.allowed_origins or origin in self.allowed_origins


DEFAULT_FORM = FormConfig()


def _keyed(forms: dict[str, FormConfig]) -> dict[str, FormConfig]:
    # The `default` form exists out of the box; a `[forms.default]` table replaces it.
    named = {key: form.model_copy(update={"key": key}) for key, form in forms.items()}
    return {"default": DEFAULT_FORM, **named}


Forms = Annotated[dict[FormKey, FormConfig], AfterValidator(_keyed)]
