"""Parsing real-shaped mail: charsets, multipart shapes, attachments, threading, machine mail."""
from __future__ import annotations

from pathlib import Path

import pytest

from channels.email.parse import Automatic, parse_message
from channels.types import Confidence

CORPUS = Path(__file__).with_name("corpus")


def parse(name: str, **kwargs):  # type: ignore[no-untyped-def]
    return parse_message((CORPUS / name).read_bytes(), region="RU", **kwargs)


def test_utf8_base64_with_encoded_words():
    mail = parse("utf8_plain.eml", recipient="sales@shop.example")
    assert (mail.name, mail.email, mail.subject) == ("Анна Смирнова", "anna.smirnova@example.ru", "Заявка на доставку")
    assert mail.text.startswith("Здравствуйте!") and mail.event_id == "<utf8-1@example.ru>"
    assert mail.thread_ref == "<utf8-1@example.ru>" and mail.attributes["mailbox"] == "sales@shop.example"
    claims = {(c.kind, c.value, c.confidence) for c in mail.identities}
    assert ("email", "anna.smirnova@example.ru", Confidence.VERIFIED) in claims
    assert ("phone", "+79123456789", Confidence.MENTIONED) in claims


@pytest.mark.parametrize(("name", "subject", "text"), [
    ("cp1251_qp.eml", "Оптовая цена", "Добрый день. Интересует оптовая цена."),
    ("koi8r_8bit.eml", "Вопрос", "Привет из KOI8-R"),
])
def test_cyrillic_charsets(name, subject, text):
    mail = parse(name)
    assert (mail.subject, mail.text) == (subject, text)


def test_html_only_mail_becomes_readable_text():
    mail = parse("latin1_html_only.eml")
    assert mail.subject == "Demande de devis été"
    assert "Je voudrais un devis pour l'été." in mail.text and "• 10 chaises" in mail.text
    assert "alert" not in mail.text and "color" not in mail.text


def test_plain_alternative_wins_and_attachments_are_listed_with_safe_names():
    mail = parse("alternative_with_attachment.eml", max_attachment_bytes=1024)
    assert mail.text == "Plain version wins."
    pdf, passwd = mail.attachments
    assert (pdf.filename, pdf.content_type, pdf.content) == ("Прайс.pdf", "application/pdf", b"%PDF-1.4 fake pdf bytes")
    assert passwd.filename == "passwd" and passwd.size == 2048 and passwd.content == b""   # over the limit


def test_html_in_related_parts_and_links():
    mail = parse("nested_related.eml")
    assert mail.text == "See the mockup here (https://studio.ru/m)\nThanks"


def test_reply_threads_to_the_root_and_drops_the_quoted_history():
    mail = parse("reply_with_quote.eml")
    assert mail.thread_ref == "<utf8-1@example.ru>" and mail.lead_hint == 7
    assert mail.subject == "Заявка на доставку" and mail.text == "Да, завтра удобно."
    assert "Когда вам удобно?" in mail.attributes["quoted"]
    assert mail.attributes["in_reply_to"] == "<out-1@shop.example>"


def test_ticket_token_without_thread_headers():
    mail = parse("token_only.eml")
    assert mail.lead_hint == 7 and mail.thread_ref == "<token-1@example.ru>"
    assert mail.text == "Ответ без заголовков цепочки."


@pytest.mark.parametrize("name", ["autoreply.eml", "bounce.eml", "mailing_list.eml"])
def test_machine_mail_is_recognised(name):
    with pytest.raises(Automatic):
        parse(name)


def test_malformed_mail_is_read_as_well_as_it_can_be():
    mail = parse("malformed.eml")
    assert mail.email == "broken-sender@client.ru"
    assert mail.event_id.endswith("@switchboard.invalid>")      # no Message-ID: a stable hash instead
    assert parse("malformed.eml").event_id == mail.event_id
    assert isinstance(mail.text, str)


def test_form_mail_from_a_no_reply_sender_is_the_client_in_reply_to():
    raw = ("From: Tilda <no-reply@tilda.ws>\r\nReply-To: Ольга <olga@client.ru>\r\nTo: sales@shop.example\r\n"
           "Subject: Новая заявка с сайта\r\nMessage-ID: <t1@tilda.ws>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
           "Телефон: +7 912 000-11-22\r\n").encode()
    mail = parse_message(raw, region="RU")
    assert (mail.name, mail.email, mail.source_id) == ("Ольга", "olga@client.ru", "olga@client.ru")
    with pytest.raises(Automatic):
        parse_message(raw.replace(b"Reply-To: \xd0\x9e\xd0\xbb\xd1\x8c\xd0\xb3\xd0\xb0 <olga@client.ru>\r\n", b""),
                      region="RU")


def test_a_header_read_twice_is_parsed_once_and_long_values_are_not_kept() -> None:
    # email.policy.default re-parses a header on every read; get_content_type() alone reads
    # Content-Type many times a mail. The parser's registry hands back the parsed header it made.
    from email.parser import BytesParser

    from channels.email.parse import POLICY

    long_refs = " ".join(f"<id-{i}@example.ru>" for i in range(200))
    raw = (f"From: =?utf-8?b?0JjQstCw0L0=?= <ivan@example.ru>\r\nReferences: {long_refs}\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n\r\nhi\r\n").encode()
    first, second = BytesParser(policy=POLICY).parsebytes(raw), BytesParser(policy=POLICY).parsebytes(raw)
    assert first.get("content-type") is second.get("content-type")
    assert first.get("from") is first.get("from") and str(first.get("from")) == "Иван <ivan@example.ru>"
    assert first.get("references") is not first.get("references")
    assert first.get("references") == second.get("references")
