"""The quick readings of phones and e-mails give exactly what the full libraries give, over many typed values."""
from __future__ import annotations

import random
import re
import sys

import pytest

from channels import identity
from channels.identity import InvalidIdentity

REGIONS = ("RU", "KZ", "BY", "US", "GB", "DE", None)
SEPARATORS = (" ", "-", ".", "(", ")", "  ", " (", ") ", "--")
PREFIXES = ("", "", "8", "7", "+7", "+", "0", "00", "810", "+1", "+44", "+49", "+375", "8 800", "+7 7")


def typed_phone(rng: random.Random) -> str:
    digits = rng.choice(PREFIXES) + "".join(
        rng.choice("0123456789") for _ in range(rng.choice((10, 10, 10, 9, 11, rng.randrange(1, 15)))))
    out = []
    for ch in digits:
        out.append(ch)
        if ch != "+" and rng.random() < 0.3:
            out.append(rng.choice(SEPARATORS))
    return "".join(out).strip(" -.(")        # a value starts with its digits or its plus (the cell was split)


def outcome(read, *args):  # type: ignore[no-untyped-def]
    try:
        return read(*args)
    except InvalidIdentity as exc:
        return ("refused", str(exc))


def full_phone(raw: str, region: str | None) -> str | tuple[str, str]:
    """What normalize_phone answered before its quick path: phonenumbers on the text as typed."""
    number = identity._e164(raw.strip(), region)
    return number if number is not None else ("refused", f"not a valid phone number: {raw!r}")


@pytest.mark.parametrize("region", REGIONS)
def test_a_typed_phone_reads_as_phonenumbers_reads_it(region):
    rng = random.Random(f"phones-{region}")
    typed = ["8 (916) 123-45-67", "+7 916 123.45.67", "89161234567", "79161234567", "8 800 555-35-35", "12-34",
             "8(495)1234567", "+44 20 7946 0958", "(916) 123-45-67", "+7 (916) 123-45-67 доб. 12", "tel:+79161234567"]
    typed += [typed_phone(rng) for _ in range(1000)]
    quick = sum(1 for raw in typed if identity._PLAIN_PHONE.fullmatch(raw.strip()))
    assert quick > 900                     # the comparison is about the quick path, not the fallback
    valid = 0
    for raw in typed:
        got = outcome(identity.normalize_phone.__wrapped__, raw, region)
        assert got == full_phone(raw, region), raw
        valid += isinstance(got, str)
    assert valid > 100                      # both answers, not only refusals, were compared


LOCALS = ("ivan.petrov", "Ivan.Petrov", "ivan_petrov+crm", "a", "o-brien", "ivan..petrov", ".ivan", "ivan.",
          "ivan petrov", '"ivan"', "иван", "x" * 70, "postmaster", "Admin", "1234", "a.b.c.d")
DOMAINS = ("example.ru", "EXAMPLE.com", "mail.example.co.uk", "sub-domain.example.org", "localhost", "foo.test",
           "mail.invalid", "b.123", "-a.ru", "a-.ru", "xn--e1afmkfd.xn--p1ai", "пример.рф", "a" * 64 + ".ru",
           "x.onion", "example..ru", "[127.0.0.1]", "gmail.com", "Yandex.RU", "a.b")


def test_an_address_reads_as_email_validator_reads_it():
    rng = random.Random("emails")
    typed = [f"{local}@{domain}" for local in LOCALS for domain in DOMAINS]
    typed += ["ivan@", "@example.ru", "no-at-sign", "  Ivan.Petrov@Example.RU  ", "a@b@example.ru",
              "Ivan <ivan@example.ru>", ("y" * 64 + ".") * 4 + "@example.ru"]
    typed += [f"{''.join(rng.choice('abcXYZ019._+-') for _ in range(rng.randrange(1, 20)))}@{rng.choice(DOMAINS)}"
              for _ in range(600)]
    quick = valid = 0
    for raw in typed:
        plain = identity._PLAIN_EMAIL.fullmatch(raw.strip())
        quick += plain is not None and identity._email_domain(plain.group(2)) is not None
        got = outcome(identity.normalize_email.__wrapped__, raw)
        assert got == outcome(identity._validated_email, raw.strip()), raw
        valid += isinstance(got, str)
    assert quick > 200 and valid > 200


# Cyrillic (with letters NFC composes, and the combining marks that would compose them), digits, dot-atom signs.
INTERNATIONAL = "абвгдеёжзийЖЁЙ019._+-\u0301\u0308ab"
WORD_CHARS = [chr(i) for i in range(0x80, sys.maxunicode + 1, 89) if re.fullmatch(r"\w", chr(i))]


def test_an_address_in_any_script_reads_as_email_validator_reads_it():
    rng = random.Random("international emails")
    typed = ["алексей.попов.5@mail.ru", "Екатерина.Соколова@Yandex.RU", "ёжик@bk.ru", "Ｆｕｌｌ@example.ru",
             "e\u0301cole@example.fr", "\u00e9cole@example.fr", "\u2126hm@example.ru", "a\u0301@example.ru",
             "\u0301a@example.ru", "用户@例子.广告", "用户@example.com", "θ²@example.gr", "ⅻ@example.ru",
             "ivan\u200b@example.ru", "иван.@mail.ru", "иван..петров@mail.ru", "İstanbul@example.tr",
             "ß@example.de", "ǅ@example.ru", "x" + "ж" * 120 + "@example.ru", "ж" * 64 + "@" + "a" * 60 + ".ru"]
    typed += [f"{c}{rng.choice('ab.1')}{c}@{rng.choice(DOMAINS)}" for c in WORD_CHARS]
    typed += ["".join(rng.choice(INTERNATIONAL) for _ in range(rng.randrange(1, 20))) + "@" + rng.choice(DOMAINS)
              for _ in range(600)]
    quick = valid = 0
    for raw in typed:
        plain = identity._PLAIN_EMAIL.fullmatch(raw.strip())
        quick += plain is not None and not raw.isascii() and identity._email_domain(plain.group(2)) is not None
        got = outcome(identity.normalize_email.__wrapped__, raw)
        assert got == outcome(identity._validated_email, raw.strip()), raw
        valid += isinstance(got, str)
    assert quick > 300 and valid > 300


def test_a_number_with_a_plus_reads_as_phonenumbers_reads_it():
    rng = random.Random("international phones")
    codes = ["7", "1", "44", "49", "375", "380", "39", "86", "998", "33", "90", "971", "800", "882", "979", "1242",
             "77", "78", "70", "0", "", "2", "21"]
    typed = ["+7 912 345-67-89", "+7 800 555-35-35", "+7 8 912 345-67-89", "+7 495 123-45-67", "+7 701 123 4567",
             "+39 06 1234 5678", "+39 312 345 6789", "+44 20 7946 0958", "+44 07946 095 800", "+1 (650) 253-0000",
             "+375 29 123-45-67", "+380 44 123 4567", "+12", "+123", "+7", "+70"]
    for _ in range(3000):
        code = rng.choice(codes)
        rest = "".join(rng.choice("0123456789") for _ in range(rng.choice((7, 8, 9, 10, 10, 10, 11, rng.randrange(0, 18)))))
        if rng.random() < 0.5 and rest:
            rest = rng.choice("3456789") + rest[1:]          # the shapes real numbers have, to get valid ones too
        typed.append(f"+{code} {rest[:3]} {rest[3:6]}-{rest[6:]}".strip(" -"))
    quick = valid = 0
    for raw in typed:
        digits = raw.strip()[1:].replace(" ", "").replace("-", "")
        quick += digits.isdigit() and identity._international(digits) is not None
        for region in ("RU", None):
            got = outcome(identity.normalize_phone.__wrapped__, raw, region)
            assert got == full_phone(raw, region), raw
            valid += isinstance(got, str)
    assert quick > 250 and valid > 2 * quick, (quick, valid)
