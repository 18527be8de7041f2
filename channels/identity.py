"""Normalization of the identities clients give us: phones to E.164, e-mail addresses to one spelling."""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneMetadata
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
    if _PLAIN_PHONE.fullmatch(text):
        # phonenumbers drops these separators before it reads anything (no extension, second number or letters
        # can hide among them), so the bare digits give the same number in about two thirds of the time; an
        # import reads 100,000 of them (tests/channels/test_identity_fast_paths.py compares the two over many).
        text = ("+" if text[0] == "+" else "") + _NOT_ASCII_DIGIT.sub("", text)
        if text[0] == "+":
            number = _international(text[1:])
            if number is not None:
                return number
    number = _e164(text, region)
    if number is None:
        raise InvalidIdentity(f"not a valid phone number: {raw!r}")
    return number


# A leading plus, then ASCII digits and the separators people type: "8 (916) 123-45-67", "+7 916 123.45.67".
_PLAIN_PHONE = re.compile(r"\+?[0-9][0-9 ()\-.]*")
_NOT_ASCII_DIGIT = re.compile(r"[^0-9]")


def _international(digits: str) -> str | None:
    """"+<digits>" in E.164 when it is a valid number that phonenumbers.parse reads without a choice to make;
    None sends it to the full reading (tests/channels/test_identity_fast_paths.py compares the two).

    With a plus, parse takes the country code as the first 1-3 digits it knows (the region plays no part) and
    the rest as the national number, unless that begins with the country's national prefix (which it may
    strip) or a 0 (Italian leading zeros); only the number's validity is left to ask the library, and parse's
    generic reading of typed text (~2/3 of the time of a phone a form posts) is skipped.
    """
    if not 2 < len(digits) <= 20 or digits[0] == "0":
        return None
    for size in (1, 2, 3):
        code = int(digits[:size])
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return None
    national = digits[size:]
    if not 2 <= len(national) <= 17 or national[0] == "0":
        return None
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, phonenumbers.region_code_for_country_code(code))
    if metadata is None or (metadata.national_prefix_for_parsing and _prefix(metadata.national_prefix_for_parsing)
                            .match(national)):
        return None
    if not phonenumbers.is_valid_number(phonenumbers.PhoneNumber(country_code=code, national_number=int(national))):
        return None
    return "+" + digits


@lru_cache(maxsize=512)
def _prefix(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _e164(text: str, region: str | None) -> str | None:
    """phonenumbers' reading of `text`: national in `region` first, then its digits as international."""
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
    return None


@lru_cache(maxsize=8192)
def normalize_email(raw: str) -> str:
    """Return the address with its domain in IDNA-decoded lower case and the local part lower-cased."""
    text = raw.strip()
    plain = _PLAIN_EMAIL.fullmatch(text)
    if plain is not None and _plain_fits(text, plain.group(1)):
        # A dot-atom mailbox of letters and digits comes back from email_validator as typed, so only the domain
        # needs the library's word, and a file's 100,000 addresses share a few hundred domains (checked once each).
        domain = _email_domain(plain.group(2))
        if domain is not None:
            return f"{plain.group(1)}@{domain}".lower()
    return _validated_email(text)


def _plain_fits(text: str, local: str) -> bool:
    """Within email_validator's length (in UTF-8) and, for a non-ASCII mailbox, already in the NFC it returns."""
    if text.isascii():
        return len(text) <= _EMAIL_MAX_LENGTH
    return len(text.encode("utf-8")) <= _EMAIL_MAX_LENGTH and unicodedata.is_normalized("NFC", local)


# Dot-atom local part (no quotes, no leading, trailing or doubled dots) of letters and digits in any script (\w:
# Unicode categories L and N, which email_validator's unsafe-character check lets through; no combining marks),
# "_", "+" and "-", at a dotted ASCII domain that is not IDNA-encoded: what email_validator accepts unchanged but
# for the domain's case ("алексей.попов@mail.ru" is as common on a Russian site as "ivan@mail.ru").
_PLAIN_EMAIL = re.compile(r"([\w+\-]+(?:\.[\w+\-]+)*)@((?!.*xn--)[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)")
_EMAIL_MAX_LENGTH = 254       # email_validator's limit for the whole address (RFC 3696 errata 1690)


@lru_cache(maxsize=4096)
def _email_domain(domain: str) -> str | None:
    """The domain as email_validator normalises it, or None when it refuses it (the full check then says why)."""
    try:
        return validate_email(f"x@{domain}", check_deliverability=False).domain
    except EmailNotValidError:
        return None


def _validated_email(text: str) -> str:
    try:
        result = validate_email(text, check_deliverability=False)
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
    # The pattern tries every word of the text as a mailbox before it finds no "@": ~8 us on a short message.
    for raw in _EMAIL_HINT.findall(text) if "@" in text else ():
        try:
            yield IdentityClaim("email", normalize_email(raw), Confidence.MENTIONED)
        except InvalidIdentity:
            continue
