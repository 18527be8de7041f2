"""The pure parts of the web-form channel: config from TOML tables, body decoding, parse, signatures, buckets."""
from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qsl

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.types import Confidence, IdentityClaim
from channels.webform.body import MAX_FIELDS, decode_body
from channels.section import read_section
from channels.webform.config import DEFAULT_FORM, FormConfig, Forms
from channels.webform.parse import FormError, check_submission_id, fields_from_pairs, is_spam, parse_submission
from channels.webform.ratelimit import TokenBuckets
from channels.webform.signature import sign, verify_signature

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def parse(fields: dict[str, str], form: FormConfig = DEFAULT_FORM, **kwargs):
    kwargs.setdefault("region", "RU")
    return parse_submission(form, fields, received_at=NOW, submission_id="s1", **kwargs)


# -- config -------------------------------------------------------------------------------

def test_default_form_exists_out_of_the_box() -> None:
    forms = read_section(Forms, {}, "forms")
    assert forms["default"] == DEFAULT_FORM
    assert DEFAULT_FORM.require_any == ("phone", "email")
    assert DEFAULT_FORM.honeypot == "website"
    assert DEFAULT_FORM.allowed_origins == ("*",)
    assert DEFAULT_FORM.max_body_bytes == 64 * 1024


def test_tables_add_forms_and_aliases_extend_the_defaults() -> None:
    forms = read_section(Forms, {"landing": {
        "title": "Call me back", "field_map": {"Your-Tel": "phone"}, "allowed_origins": ["https://shop.example"],
        "rate_per_minute": 2, "burst": "3", "priority": 5, "source": "spring-campaign",
        "hmac_secret": "s3cret", "require_signature": "true",
    }}, "forms")
    landing = forms["landing"]
    assert set(forms) == {"default", "landing"}
    assert landing.canonical("your-tel") == "phone" and landing.canonical("TEL") == "phone"
    assert landing.canonical("fio") == "name"
    assert (landing.burst, landing.rate_per_minute, landing.priority) == (3, 2.0, 5)
    assert landing.require_signature is True
    assert "s3cret" not in repr(landing)


def test_environment_strings_are_read_as_lists() -> None:
    form = read_section(FormConfig, {"allowed_origins": "https://a.example, https://b.example"}, "forms.x")
    assert form.allowed_origins == ("https://a.example", "https://b.example")


@pytest.mark.parametrize(("table", "words"), [
    ({"bogus": 1}, ["forms.x.bogus: unknown setting"]),
    ({"burst": "many"}, ["forms.x.burst", "valid integer"]),
    ({"burst": 0}, ["forms.x.burst", "greater than or equal to 1"]),
    ({"field_map": {"a": "zip"}}, ["forms.x.field_map", "'zip'"]),
    ({"require_signature": True}, ["require_signature needs hmac_secret"]),
    ({"required": ["phone", "fax"]}, ["'fax'"]),
    ({"require_signature": "maybe"}, ["forms.x.require_signature", "valid boolean"]),
    ("not a table", ["forms.x", "dictionary"]),
])
def test_bad_tables_say_which_key_and_why(table, words) -> None:
    with pytest.raises(ValueError) as info:
        read_section(FormConfig, table, "forms.x")
    for word in words:
        assert word in str(info.value)


def test_bad_form_key() -> None:
    with pytest.raises(ValueError, match="form key"):
        read_section(Forms, {"bad key/..": {}}, "forms")


# -- body decoding ------------------------------------------------------------------------

def test_urlencoded_with_repeated_names() -> None:
    fields = decode_body("application/x-www-form-urlencoded", "name=%D0%98%D0%B2%D0%B0%D0%BD&i=a&i=b".encode())
    assert fields == {"name": "Иван", "i": "a, b"}


def test_multipart_text_parts_keep_newlines() -> None:
    body = (b'--XX\r\nContent-Disposition: form-data; name="message"\r\n\r\nline 1\r\nline 2\r\n'
            b'--XX\r\nContent-Disposition: form-data; name="attachment"; filename=""\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n\r\n--XX--\r\n")
    assert decode_body("multipart/form-data; boundary=XX", body) == {"message": "line 1\r\nline 2"}


def test_multipart_file_is_refused_naming_the_part() -> None:
    body = (b'--XX\r\nContent-Disposition: form-data; name="cv"; filename="cv.pdf"\r\n'
            b"Content-Type: application/pdf\r\n\r\n%PDF-1.4\r\n--XX--\r\n")
    with pytest.raises(FormError) as info:
        decode_body("multipart/form-data; boundary=XX", body)
    assert (info.value.status, info.value.code, info.value.field) == (415, "file_not_accepted", "cv")


def test_json_scalars_become_strings() -> None:
    fields = decode_body("application/json; charset=utf-8", b'{"phone": 79123456789, "ok": true, "x": null}')
    assert fields == {"phone": "79123456789", "ok": "true"}


@pytest.mark.parametrize(("content_type", "body", "status"), [
    ("application/json", b"{nope", 400),
    ("application/json", b"[1, 2]", 400),
    ("application/json", b'{"name": {"first": "A"}}', 400),
    ("application/x-www-form-urlencoded", b"name=\xff\xfe", 400),
    ("multipart/form-data", b"no boundary", 400),
    ("text/plain", b"name=a", 415),
    ("", b"name=a", 415),
])
def test_bodies_we_refuse(content_type: str, body: bytes, status: int) -> None:
    with pytest.raises(FormError) as info:
        decode_body(content_type, body)
    assert info.value.status == status


def test_field_count_is_bounded() -> None:
    with pytest.raises(FormError, match="more than"):
        decode_body("application/x-www-form-urlencoded", "&".join(f"f{i}=1" for i in range(500)).encode())


def test_field_bound_is_the_one_parse_qsl_puts() -> None:
    exactly = "&".join(f"f{i}=1" for i in range(MAX_FIELDS))
    assert len(decode_body("application/x-www-form-urlencoded", exactly.encode())) == MAX_FIELDS
    with pytest.raises(FormError, match="more than"):
        decode_body("application/x-www-form-urlencoded", (exactly + "&").encode())


# Pieces a hostile or careless client puts in a form body: escapes good and broken, '+', separators.
_PIECES = st.sampled_from(["%", "+", "&", "=", ";", "#", "?", "a", "Z", "0", "F", "%D0", "%9F", "%E0", "%2", "%25",
                           "%2B", "%26", "%3D", "%00", "%ff", "П", "😀", " ", "\r\n"])


@settings(max_examples=150, deadline=None)
@given(st.lists(_PIECES, max_size=24).map("".join))
def test_urlencoded_bodies_read_as_the_standard_library_reads_them(body: str) -> None:
    expected = fields_from_pairs(parse_qsl(body, keep_blank_values=True, max_num_fields=MAX_FIELDS))
    assert decode_body("application/x-www-form-urlencoded", body.encode()) == expected


# -- parse --------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", ["+7 (912) 345-67-89", "8 912 345 67 89", "79123456789", "+79123456789"])
def test_russian_phone_formats_become_e164(raw: str) -> None:
    contact = parse({"phone": raw})
    assert contact.phone == "+79123456789"
    assert contact.source_id == "+79123456789"
    assert contact.identities == (IdentityClaim("phone", "+79123456789", Confidence.STATED),)


def test_the_contact_carries_everything() -> None:
    contact = parse({"fio": "Иван Петров", "tel": "89123456789", "E-mail": "Ivan@Example.COM",
                     "comment": "Перезвоните", "utm_source": "yandex", "utm_campaign": "spring", "city": "Пермь",
                     "submission_id": "ignored-here"},
                    client_ip="203.0.113.5", page="https://shop.example/contacts")
    assert contact.channel == "form"
    assert contact.event_id == "default:s1"
    assert (contact.name, contact.phone, contact.email, contact.text) == (
        "Иван Петров", "+79123456789", "ivan@example.com", "Перезвоните")
    assert contact.received_at == NOW
    assert dict(contact.attributes) == {
        "form": "default", "client_ip": "203.0.113.5", "page": "https://shop.example/contacts",
        "utm_source": "yandex", "utm_campaign": "spring", "city": "Пермь",
    }
    assert [(i.kind, i.confidence) for i in contact.identities] == [
        ("phone", Confidence.STATED), ("email", Confidence.STATED)]


def test_email_alone_is_enough_and_is_the_source() -> None:
    contact = parse({"email": "a@example.com"})
    assert contact.phone is None and contact.source_id == "a@example.com"


def test_identities_in_the_message_are_only_mentioned() -> None:
    contact = parse({"phone": "+79123456789", "message": "или жене: +7 912 000-11-22, boss@example.com, "
                                                         "мой +7 912 345-67-89"})
    assert IdentityClaim("phone", "+79120001122", Confidence.MENTIONED) in contact.identities
    assert IdentityClaim("email", "boss@example.com", Confidence.MENTIONED) in contact.identities
    # The stated number is not repeated as a weaker claim.
    assert [i.value for i in contact.identities].count("+79123456789") == 1


@pytest.mark.parametrize(("fields", "code", "field"), [
    ({"phone": "12"}, "invalid", "phone"),
    ({"phone": "call me maybe"}, "invalid", "phone"),
    ({"email": "not-an-address"}, "invalid", "email"),
    ({"name": "Иван", "message": "hi"}, "required", "phone"),
    ({"phone": "", "email": "  "}, "required", "phone"),
    ({"phone": "+79123456789", "name": "x" * 201}, "too_long", "name"),
    ({"phone": "+79123456789", "message": "x" * 5001}, "too_long", "message"),
])
def test_errors_name_the_field(fields: dict[str, str], code: str, field: str) -> None:
    with pytest.raises(FormError) as info:
        parse(fields)
    assert (info.value.code, info.value.field, info.value.status) == (code, field, 422)


def test_required_fields_per_form() -> None:
    form = FormConfig(key="quote", required=("name",), require_any=())
    with pytest.raises(FormError) as info:
        parse({"message": "hello"}, form)
    assert info.value.field == "name"
    assert parse({"name": "Anna"}, form).source_id == ""


def test_html_is_kept_as_literal_text_and_controls_dropped() -> None:
    contact = parse({"name": "<img src=x onerror=alert(1)>", "phone": "+79123456789", "message": "a\x00b\r\nc"})
    assert contact.name == "<img src=x onerror=alert(1)>"
    assert contact.text == "ab\r\nc"


def test_extras_are_bounded_and_cannot_forge_our_attributes() -> None:
    form = FormConfig(key="f", max_extra_fields=3)
    fields = {"phone": "+79123456789", "form": "other", "client_ip": "1.2.3.4", "source": "x",
              "utm_source": "vk", "long": "v" * 1000, "k" * 65: "too long a name", "a": "1", "b": "2"}
    attributes = parse(fields, form, client_ip="203.0.113.9").attributes
    assert attributes["form"] == "f" and attributes["client_ip"] == "203.0.113.9" and "source" not in attributes
    assert attributes["utm_source"] == "vk"
    assert attributes["long"] == "v" * 200
    assert set(attributes) == {"form", "client_ip", "utm_source", "long", "a"}


def test_posted_page_beats_the_referer_header() -> None:
    attributes = parse({"phone": "+79123456789", "page": "https://shop.example/p?utm_source=x",
                        "referrer": "https://yandex.ru/"}, page="https://shop.example/").attributes
    assert attributes["page"] == "https://shop.example/p?utm_source=x"
    assert attributes["referrer"] == "https://yandex.ru/"


def test_form_settings_reach_the_contact() -> None:
    form = FormConfig(key="vip", title="VIP", priority=7, source="partner-site")
    contact = parse({"phone": "+79123456789"}, form)
    assert (contact.event_id, contact.subject, contact.priority_hint) == ("vip:s1", "VIP", 7)
    assert contact.attributes["source"] == "partner-site"


def test_honeypot_and_helpers() -> None:
    assert is_spam(DEFAULT_FORM, {"website": "http://spam"})
    assert not is_spam(DEFAULT_FORM, {"website": " "})
    assert not is_spam(FormConfig(key="k", honeypot=None), {"website": "x"})
    assert fields_from_pairs([("a", ""), ("a", "1"), ("a", "2")]) == {"a": "1, 2"}
    assert check_submission_id(" 0b5c-ab:1 ") == "0b5c-ab:1"
    with pytest.raises(FormError):
        check_submission_id("has spaces in it")


# -- signatures ---------------------------------------------------------------------------

SIGNED = FormConfig(key="s", hmac_secret="topsecret", require_signature=True)


def test_signature_round_trip_and_failures() -> None:
    body = b'{"phone": "+79123456789"}'
    good = {"X-Switchboard-Timestamp": "1000", "X-Switchboard-Signature": sign("topsecret", 1000, body)}
    verify_signature(SIGNED, good, body, now=1100)
    cases = [
        ({}, "signature_required"),
        ({**good, "X-Switchboard-Signature": sign("wrong", 1000, body)}, "bad_signature"),
        ({"X-Switchboard-Signature": good["X-Switchboard-Signature"]}, "bad_signature"),
        ({**good, "X-Switchboard-Timestamp": "soon"}, "bad_signature"),
    ]
    for headers, code in cases:
        with pytest.raises(FormError) as info:
            verify_signature(SIGNED, headers, body, now=1100)
        assert (info.value.code, info.value.status) == (code, 401)
    with pytest.raises(FormError, match="300"):
        verify_signature(SIGNED, good, body, now=1301)
    with pytest.raises(FormError):
        verify_signature(SIGNED, good, body + b" ", now=1100)


def test_unsigned_posts_pass_when_a_signature_is_optional() -> None:
    verify_signature(FormConfig(key="o", hmac_secret="k"), {}, b"{}", now=0)


# -- token buckets ------------------------------------------------------------------------

def test_token_bucket_burst_then_rate() -> None:
    now = [0.0]
    buckets = TokenBuckets(lambda: now[0])
    assert [buckets.take("ip", rate_per_minute=6, burst=2) for _ in range(2)] == [0.0, 0.0]
    assert buckets.take("ip", rate_per_minute=6, burst=2) == pytest.approx(10.0)
    assert buckets.take("other", rate_per_minute=6, burst=2) == 0.0
    now[0] = 10.0
    assert buckets.take("ip", rate_per_minute=6, burst=2) == 0.0


def test_token_buckets_forget_the_oldest_clients() -> None:
    buckets = TokenBuckets(lambda: 0.0, max_clients=3)
    for i in range(10):
        buckets.take(i, rate_per_minute=1, burst=1)
    assert len(buckets) == 3
    assert buckets.take(0, rate_per_minute=1, burst=1) == 0.0      # forgotten: a fresh bucket
    assert buckets.take(9, rate_per_minute=1, burst=1) > 0
