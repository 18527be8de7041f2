"""Every channel's parser, fed generated payloads, fails only in the ways its adapter turns into a 4xx."""
from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from channels.email.parse import Automatic, fallback_contact, parse_message as parse_mail
from channels.http_body import MalformedJson, parse_json
from channels.viber.parse import parse_message as parse_viber
from channels.webform.body import decode_body
from channels.webform.parse import FormError
from channels.whatsapp.parse import messages_of, parse_message as parse_whatsapp

# What the webhook adapters catch and answer 400 (or skip with 200) for.
SHAPE_ERRORS = (KeyError, TypeError, ValueError, AttributeError)
texts = st.text(max_size=40) | st.sampled_from(["²", "99999999999999999999", "\x00", "+79123456789", "a@b.c"])
values = st.recursive(st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | texts,
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=4),
                      max_leaves=15)


def _shaped(keys: list[str]) -> st.SearchStrategy[dict]:
    return st.dictionaries(st.sampled_from(keys) | texts, values, max_size=6)


FAST = settings(max_examples=150, deadline=None)


@FAST
@given(st.binary(max_size=300) | st.just(b"[" * 20_000))
def test_json_decoding_raises_only_malformed_json(raw):
    try:
        parse_json(raw)
    except MalformedJson:
        pass


@FAST
@given(st.sampled_from(["application/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=b",
                        "multipart/form-data", "text/plain", ""]),
       st.binary(max_size=300) | values.map(lambda v: json.dumps(v).encode()))
def test_form_bodies_raise_only_form_errors(content_type, body):
    try:
        decode_body(content_type, body)
    except FormError as exc:
        assert 400 <= exc.status < 500


@FAST
@given(_shaped(["object", "entry"]) | st.fixed_dictionaries(
    {"entry": st.lists(st.fixed_dictionaries({"changes": st.lists(st.fixed_dictionaries({"value": st.fixed_dictionaries(
        {"messages": st.lists(_shaped(["from", "id", "type", "timestamp", "text", "contacts", "image"]), max_size=2),
         "contacts": values})}), max_size=2)}), max_size=2)}))
def test_whatsapp_payloads_fail_only_by_shape(payload):
    try:
        for message, names in messages_of(payload):
            try:
                parse_whatsapp(message, names, "RU")
            except SHAPE_ERRORS:
                pass
    except SHAPE_ERRORS:
        pass


@FAST
@given(st.fixed_dictionaries({"sender": _shaped(["id", "name"]), "message_token": values,
                              "message": _shaped(["type", "text", "media", "contact", "location", "size",
                                                  "file_name", "tracking_data"])}) | _shaped(["sender", "message"]))
def test_viber_events_fail_only_by_shape(event):
    try:
        parse_viber(event, "RU")
    except SHAPE_ERRORS:
        pass


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from([b"From: ", b"Subject: ", b"To: ", b"Message-ID: ", b"Content-Type: multipart/mixed;",
                                 b" boundary=x", b"\r\n", b"--x\r\n", b"=?utf-8?b?0J/RgA==?=", b"\x00", b"\xff",
                                 b"a@b.c", b"<id@x>", b"Auto-Submitted: auto-replied"]) | st.binary(max_size=20),
                max_size=40).map(b"".join))
def test_mail_always_becomes_a_contact_or_is_automatic(raw):
    try:
        contact = parse_mail(raw, region="RU", recipient="sales@shop.example")
    except Automatic:
        return
    except Exception:   # the SMTP handler's last line of defence must then hold
        contact = fallback_contact(raw, region="RU", recipient="sales@shop.example")
    assert contact.event_id
