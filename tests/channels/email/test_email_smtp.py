"""SMTP intake with smtplib as the sending client: 250 after commit, 550 / 552 / 451 when it must."""
from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from pathlib import Path

import pytest

from channels.email.config import SmtpConfig
from channels.email.smtp_handler import SmtpIntake
from support.recording_emit import RecordingEmit

CORPUS = Path(__file__).with_name("corpus")


@pytest.fixture
def emit() -> RecordingEmit:
    return RecordingEmit()


@pytest.fixture
async def smtp(emit: RecordingEmit):  # type: ignore[no-untyped-def]
    config = SmtpConfig.model_validate({"listen": "127.0.0.1:0", "domains": ["shop.example"], "max_bytes": 200_000})
    intake = SmtpIntake(config, emit)
    await intake.start()
    yield intake
    await intake.stop()


def send(port: int, raw: bytes, to: str = "sales@shop.example") -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.ehlo()
        client.mail("client@example.ru")
        code, reply = client.rcpt(to)
        if code != 250:
            return code, reply
        return client.data(raw)


async def test_mail_for_our_domain_is_committed_before_250(smtp, emit):
    code, _ = await asyncio.to_thread(send, smtp.port, (CORPUS / "utf8_plain.eml").read_bytes())
    assert code == 250
    [mail] = emit.contacts
    assert mail.subject == "Заявка на доставку" and mail.attributes["mailbox"] == "sales@shop.example"


async def test_strangers_and_oversized_mail_are_refused(smtp, emit):
    code, _ = await asyncio.to_thread(send, smtp.port, b"Subject: x\r\n\r\nx", "ceo@other.example")
    assert code == 550
    big = EmailMessage()
    big["From"], big["To"], big["Subject"] = "a@example.ru", "sales@shop.example", "big"
    big.set_content(("x" * 70 + "\n") * 4000)
    code, _ = await asyncio.to_thread(send, smtp.port, big.as_bytes(policy=big.policy.clone(linesep="\r\n")))
    assert code == 552 and emit.contacts == []


async def test_store_down_answers_451_so_the_sender_retries(smtp, emit):
    emit.down = True
    code, _ = await asyncio.to_thread(send, smtp.port, (CORPUS / "cp1251_qp.eml").read_bytes())
    assert code == 451 and emit.contacts == []
    emit.down = False
    code, _ = await asyncio.to_thread(send, smtp.port, (CORPUS / "cp1251_qp.eml").read_bytes())
    assert code == 250 and emit.event_ids == ["<cp1251-1@corp.ru>"]


@pytest.mark.parametrize("name", ["autoreply.eml", "bounce.eml", "mailing_list.eml"])
async def test_machine_mail_is_taken_but_never_filed(smtp, emit, name):
    code, _ = await asyncio.to_thread(send, smtp.port, (CORPUS / name).read_bytes())
    assert code == 250 and emit.contacts == []


async def test_malformed_mail_is_filed_and_the_listener_lives_on(smtp, emit):
    for name in ("malformed.eml", "koi8r_8bit.eml"):
        code, _ = await asyncio.to_thread(send, smtp.port, (CORPUS / name).read_bytes())
        assert code == 250
    assert [c.email for c in emit.contacts] == ["broken-sender@client.ru", "petr@mail.ru"]
