"""More real-world mail: charsets that lie, reply styles, nested files, machine mail, bytes that are no mail."""
from __future__ import annotations

from pathlib import Path

import pytest

from channels.email.charsets import decode_bytes, guess_8bit
from channels.email.parse import Automatic, automatic_reason, is_automatic, parse_message
from channels.email.parts import safe_filename
from channels.email.quoting import strip_quoted
from channels.types import Confidence

CORPUS = Path(__file__).with_name("corpus")


def parse(name: str, **kwargs):  # type: ignore[no-untyped-def]
    return parse_message((CORPUS / name).read_bytes(), region="RU", **kwargs)


def test_rfc2047_words_in_three_charsets_and_an_iso_8859_5_body():
    mail = parse("iso8859_5_rfc2047.eml")
    assert (mail.name, mail.email, mail.subject) == ("Ольга Петрова", "olga@firm.ru", "Счёт на оплату №5")
    assert mail.text == "Пришлите, пожалуйста, счёт. Тел. 8 (495) 123-45-67"
    assert ("phone", "+74951234567", Confidence.MENTIONED) in {(c.kind, c.value, c.confidence) for c in mail.identities}


def test_undeclared_8bit_windows_1251_headers_and_body_without_a_message_id():
    mail = parse("cp1251_undeclared.eml")
    assert (mail.name, mail.subject) == ("Сергей", "Нужна консультация")
    assert mail.text == "Здравствуйте, нужна консультация по доставке."
    assert mail.event_id.endswith("@switchboard.invalid>") and mail.thread_ref == mail.event_id


def test_an_unknown_charset_name_is_guessed_from_the_bytes():
    assert parse("koi8_unknown_charset.eml").text == "Хочу заказать доставку на завтра."


@pytest.mark.parametrize("text", ["Привет, как дела? Всё хорошо.", "Счёт 5 оплачен, ждём доставку"])
@pytest.mark.parametrize("charset", ["windows-1251", "koi8-r"])
def test_cyrillic_codecs_are_told_apart(text, charset):
    data = text.encode(charset)
    assert guess_8bit(data) == charset and decode_bytes(data, "x-unknown") == text


def test_latin_text_is_not_taken_for_cyrillic():
    assert decode_bytes("Grüße aus Köln, l'été".encode("latin-1")) == "Grüße aus Köln, l'été"


@pytest.mark.parametrize(("name", "text", "quoted", "lead_hint", "thread_ref"), [
    ("outlook_reply.eml", "Договор подписан, отправляю скан.", "Пришлите подписанный договор.", 42,
     "<outlook-1@bigcorp.ru>"),
    ("original_message_reply.eml", "Акт получили.\nСпасибо!", "Высылаем акт.", None, "<out-9@shop.example>"),
    ("yandex_reply.eml", "Да, подходит.", "Доставка завтра", None, "<root-5@shop.example>"),
    ("gmail_wrapped_reply.eml", "Sounds good, please go ahead.", "Shall we proceed?", None, "<out-3@shop.example>"),
])
def test_quoted_history_in_every_client_style_stays_off_the_card(name, text, quoted, lead_hint, thread_ref):
    mail = parse(name)
    assert mail.text == text and quoted in mail.attributes["quoted"]
    assert (mail.lead_hint, mail.thread_ref) == (lead_hint, thread_ref)


def test_a_form_mail_with_from_lines_is_not_taken_for_history():
    text = "Новая заявка\nFrom: Москва\nТелефон: +7 912 000-11-22\nКомментарий: перезвоните"
    assert strip_quoted(text) == text


def test_a_reply_that_is_only_quote_keeps_its_text():
    assert strip_quoted("> old\n> older") == "> old\n> older"


def test_nested_attachments_attached_mail_and_hostile_file_names():
    mail = parse("forward_and_nested.eml")
    assert mail.text == "See the attached offer and the drawing." and mail.subject == "Offer"
    drawing, forwarded, program = mail.attachments
    assert (drawing.filename, drawing.content_type, drawing.content) == ("чертёж.pdf", "application/pdf", b"%PDF drawing")
    assert forwarded.content_type == "message/rfc822" and forwarded.filename.endswith(".eml")
    assert b"Our offer." in forwarded.content and forwarded.size == len(forwarded.content)
    assert program.filename == "evil_name_.exe" and program.size == 32


def test_oversized_attachments_are_listed_and_noted_without_content():
    mail = parse("forward_and_nested.eml", max_attachment_bytes=20)
    assert [a.content == b"" for a in mail.attachments] == [False, True, True]
    assert "evil_name_.exe (32 bytes)" in mail.attributes["attachments_dropped"]


@pytest.mark.parametrize(("raw", "safe"), [
    ("../../etc/passwd", "passwd"), ("C:\\Windows\\x.bat", "x.bat"), (".htaccess", "htaccess"),
    ("a\x00b\nc.txt", "a_b_c.txt"), ("..", "attachment"), ("x" * 300 + ".pdf", "x" * 140 + ".pdf"),
])
def test_file_names_are_made_safe(raw, safe):
    assert safe_filename(raw) == safe


def test_truncated_multipart_keeps_its_body_and_what_there_is_of_the_file():
    mail = parse("truncated_multipart.eml")
    assert mail.text == "The body survives." and mail.attachments[0].filename == "photo.jpg"


def test_a_message_without_from_is_kept_and_takes_the_envelope_sender():
    assert parse("missing_from.eml").email is None
    mail = parse("missing_from.eml", envelope_sender="Caller@Example.RU")
    assert mail.email == "caller@example.ru" and mail.source_id == "caller@example.ru"
    assert mail.text == "Please call me back: +7 912 345-67-89"


def test_bytes_that_are_no_mail_still_become_a_contact():
    mail = parse("garbage.eml", envelope_sender="x@example.ru")
    assert mail.event_id == parse("garbage.eml").event_id and mail.email == "x@example.ru"
    assert "junk" in mail.text and "\x00" not in mail.text
    assert parse_message(b"", region=None).event_id.endswith("@switchboard.invalid>")


def test_unknown_charset_encoded_words_are_read_anyway():
    assert parse("malformed.eml").subject == "ÿþ broken"


def test_overlong_message_ids_are_hashed_to_fit_the_store():
    raw = (f"From: a@example.ru\r\nMessage-ID: <{'x' * 400}@example.ru>\r\nReferences: <{'y' * 400}@e.ru>\r\n\r\nhi").encode()
    mail = parse_message(raw, region=None)
    assert len(mail.event_id) < 100 and len(mail.thread_ref) < 100 and mail.thread_ref != mail.event_id
    assert parse_message(raw, region=None).thread_ref == mail.thread_ref


HUMAN = "From: Anna <anna@example.ru>\r\nTo: sales@shop.example\r\nSubject: Hi\r\n"


@pytest.mark.parametrize("headers", [
    "Precedence: bulk\r\n", "Precedence: junk\r\n", "X-Autoreply: yes\r\n", "X-Autorespond: 1\r\n",
    "List-Unsubscribe: <mailto:u@x.ru>\r\n", "Auto-Submitted: auto-generated\r\n", "Return-Path: <>\r\n",
    "Content-Type: multipart/report; report-type=disposition-notification; boundary=b\r\n",
])
def test_machine_mail_headers(headers):
    raw = (HUMAN + headers + "\r\nbody\r\n").encode()
    with pytest.raises(Automatic):
        parse_message(raw, region=None)


@pytest.mark.parametrize("sender", ["MAILER-DAEMON@mx.example.ru", "postmaster@example.ru"])
def test_machine_senders(sender):
    raw = f"From: {sender}\r\nSubject: failure\r\n\r\nx".encode()
    with pytest.raises(Automatic):
        parse_message(raw, region=None)


def test_a_null_envelope_sender_is_a_bounce_and_auto_submitted_no_is_a_person():
    raw = (HUMAN + "Auto-Submitted: no\r\n\r\nbody").encode()
    assert parse_message(raw, region=None, envelope_sender="anna@example.ru").text == "body"
    with pytest.raises(Automatic):
        parse_message(raw, region=None, envelope_sender="")
    from email import message_from_bytes, policy
    assert is_automatic is automatic_reason
    assert is_automatic(message_from_bytes(raw, policy=policy.default)) is None
