"""Normalization of the identities clients give us: phones to E.164, e-mail addresses to one spelling."""
from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from channels.types import Confidence, IdentityClaim


class InvalidIdentity(ValueError):
    """The value cannot be a phone number / e-mail address."""


# Both are pure and slow (phonenumbers, email_validator: ~0.1-0.5 ms a call), and one contact's values
# are normalized several times on the way in (parser, automatic-mail check, identity resolution).
@lru_cache(maxsize=8192)
def normalize_phone(raw: str, region: str | None) -> str:
    """Return `raw` in E.164 (`+79123456789`), reading national formats in `region`."""
    text = raw.strip()
    if not text:
        raise InvalidIdentity("empty phone number")
    if len(text) > 40:
        raise InvalidIdentity("phone number too long")
    candidates = [text]
    digits = re.sub(r"\D", "", text)
    # "79123456789" typed without the plus is common; try it as international after national.
    if not text.startswith("+") and digits:
        candidates.append("+" + digits)
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    raise InvalidIdentity(f"not a valid phone number: {raw!r}")


@lru_cache(maxsize=8192)
def normalize_email(raw: str) -> str:
    """Return the address with its domain in IDNA-decoded lower case and the local part lower-cased."""
    try:
        result = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidIdentity(str(exc)) from exc
    # Mailboxes are case-insensitive in practice everywhere our clients live.
    return result.normalized.lower()


_PHONE_HINT = re.compile(r"\d[\d\s()+\-.]{5,}\d")
_EMAIL_HINT = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")


def mentioned_identities(text: str, region: str | None) -> Iterator[IdentityClaim]:
    """Phones and e-mails written in free text: weak claims that never auto-merge contacts."""
    if not text:
        return
    if _PHONE_HINT.search(text):
        for match in phonenumbers.PhoneNumberMatcher(text, region or "ZZ"):
            yield IdentityClaim(
                "phone",
                phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164),
                Confidence.MENTIONED,
            )
    for raw in _EMAIL_HINT.findall(text):
        try:
            yield IdentityClaim("email", normalize_email(raw), Confidence.MENTIONED)
        except InvalidIdentity:
            continue
