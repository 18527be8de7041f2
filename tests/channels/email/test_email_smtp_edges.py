"""SMTP intake at its edges: SIZE, the null sender, slow and failing stores, protocol garbage, long lines."""
from __future__ import annotations

import asyncio
import logging
import smtplib
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from channels.email.config import SmtpConfig
from channels.email.smtp_handler import SmtpIntake
from channels.types import Accepted, InboundContact
from support.recording_emit import RecordingEmit

CORPUS = Path(__file__).with_name("corpus")
CONFIG = {"listen": "127.0.0.1:0", "domains": ["shop.example"], "addresses": ["boss@partner.example"],
          "max_bytes": 200_000}


@pytest.fixture
def emit() -> RecordingEmit:
    return RecordingEmit()


@pytest.fixture
async def smtp(emit):  # type: ignore[no-untyped-def]
    async with SmtpIntake(SmtpConfig.model_validate(CONFIG), emit) as intake:
        yield intake


def send(port: int, raw: bytes, sender: str = "client@example.ru", to: tuple[str, ...] = ("sales@shop.example",),
         options: tuple[str, ...] = ()) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.ehlo()
        code, reply = client.mail(sender, list(options))
        if code != 250:
            return code, reply
        accepted = [client.rcpt(address)[0] for address in to]
        if 250 not in accepted:
            return 550, b"no recipient"
        return client.data(raw)


async def test_size_is_advertised_and_a_declared_size_over_the_limit_is_refused_at_mail_from(smtp, emit):
    def ehlo_and_mail() -> tuple[str, int]:
        with smtplib.SMTP("127.0.0.1", smtp.port, timeout=10) as client:
            client.ehlo()
            return client.esmtp_features.get("size", ""), client.mail("a@example.ru", ["SIZE=5000000"])[0]
    size, code = await asyncio.to_thread(ehlo_and_mail)
    assert size == "200000" and code == 552 and emit.contacts == []


async def test_explicit_addresses_and_mixed_recipients(smtp, emit):
    raw = (CORPUS / "cp1251_qp.eml").read_bytes()
    code, _ = await asyncio.to_thread(send, smtp.port, raw, to=("nobody@elsewhere.example", "Boss@Partner.Example"))
    assert code == 250 and emit.contacts[0].attributes["mailbox"] == "boss@partner.example"


async def test_the_null_sender_is_a_bounce_taken_but_not_filed(smtp, emit):
    code, _ = await asyncio.to_thread(send, smtp.port, (CORPUS / "utf8_plain.eml").read_bytes(), "")
    assert code == 250 and emit.contacts == []


async def test_missing_from_header_takes_the_envelope_sender(smtp, emit):
    code, _ = await asyncio.to_thread(send, smtp.port, (CORPUS / "missing_from.eml").read_bytes(), "Caller@Example.RU")
    assert code == 250 and emit.contacts[0].email == "caller@example.ru"


async def test_250_comes_only_after_emit_returned(emit):
    release = asyncio.Event()
    seen: list[InboundContact] = []

    async def slow_emit(contact: InboundContact) -> Accepted:
        seen.append(contact)
        await release.wait()
        return Accepted(1, 1, 1)

    async with SmtpIntake(SmtpConfig.model_validate(CONFIG), slow_emit) as intake:
        sending = asyncio.ensure_future(asyncio.to_thread(send, intake.port, (CORPUS / "utf8_plain.eml").read_bytes()))
        async with asyncio.timeout(60):
            while not seen:
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
        assert not sending.done()          # the sender still waits for its answer
        release.set()
        code, _ = await sending
    assert code == 250


async def test_any_store_failure_is_a_temporary_refusal(emit):
    async def broken_emit(contact: InboundContact) -> Accepted:
        raise RuntimeError("bug in the pipeline")

    async with SmtpIntake(SmtpConfig.model_validate(CONFIG), broken_emit) as intake:
        code, reply = await asyncio.to_thread(send, intake.port, (CORPUS / "utf8_plain.eml").read_bytes())
    assert code == 451 and b"try again" in reply


@pytest.mark.parametrize("name", ["garbage.eml", "truncated_multipart.eml", "malformed.eml", "forward_and_nested.eml"])
async def test_broken_mail_is_stored_as_well_as_it_can_be(smtp, emit, name):
    code, _ = await asyncio.to_thread(send, smtp.port, (CORPUS / name).read_bytes())
    assert code == 250 and len(emit.contacts) == 1


async def test_long_lines_are_taken_not_refused(smtp, emit):
    raw = ("From: a@example.ru\r\nSubject: html\r\nContent-Type: text/html\r\n\r\n<p>" + "word " * 3000
           + "</p>\r\n").encode()
    code, _ = await asyncio.to_thread(send, smtp.port, raw)
    assert code == 250 and emit.contacts[0].text.startswith("word word")


async def test_protocol_garbage_does_not_stop_the_listener(smtp, emit):
    def babble() -> bytes:
        with socket.create_connection(("127.0.0.1", smtp.port), timeout=5) as sock:
            sock.recv(1000)
            sock.sendall(b"\xff\xfe\x00 nonsense\r\nDATA\r\nRCPT TO:<x>\r\n" + b"A" * 200_000 + b"\r\n")
            return sock.recv(1000)
    answer = await asyncio.to_thread(babble)
    assert answer.startswith(b"5")
    code, _ = await asyncio.to_thread(send, smtp.port, (CORPUS / "koi8r_8bit.eml").read_bytes())
    assert code == 250 and emit.event_ids == ["<koi8-1@mail.ru>"]


async def test_many_messages_over_one_connection_and_in_parallel(smtp, emit):
    def many(prefix: str) -> list[int]:
        codes = []
        with smtplib.SMTP("127.0.0.1", smtp.port, timeout=10) as client:
            for i in range(10):
                raw = f"From: c{i}@example.ru\r\nMessage-ID: <{prefix}-{i}@example.ru>\r\n\r\nhello {i}\r\n".encode()
                codes.append(client.sendmail(f"c{i}@example.ru", ["sales@shop.example"], raw) and 0 or 250)
        return codes
    results = await asyncio.gather(*(asyncio.to_thread(many, p) for p in ("a", "b", "c")))
    assert all(code == 250 for codes in results for code in codes) and len(set(emit.event_ids)) == 30


@pytest.fixture
def protocol_log() -> Iterator[logging.Logger]:
    """aiosmtpd's logger as a fresh process has it (no level of its own), put back afterwards."""
    aiosmtpd = logging.getLogger("mail.log")
    before = aiosmtpd.level
    aiosmtpd.setLevel(logging.NOTSET)
    yield aiosmtpd
    aiosmtpd.setLevel(before)


async def test_at_info_aiosmtpd_does_not_trace_every_command(emit, caplog, protocol_log):
    caplog.set_level(logging.INFO)
    async with SmtpIntake(SmtpConfig.model_validate(CONFIG), emit) as intake:
        assert (await asyncio.to_thread(send, intake.port, (CORPUS / "utf8_plain.eml").read_bytes()))[0] == 250
        assert (await asyncio.to_thread(send, intake.port, b"Subject: x\r\n\r\nx", to=("ceo@other.example",)))[0] == 550
    assert [r.getMessage() for r in caplog.records if r.name == "mail.log" and r.levelno < logging.WARNING] == []
    assert any("refused mail for ceo@other.example" in r.getMessage() for r in caplog.records
               if r.name == "channels.email.smtp_handler")      # our own lines stay


async def test_at_debug_aiosmtpd_traces_the_conversation(emit, caplog, protocol_log):
    caplog.set_level(logging.DEBUG)
    async with SmtpIntake(SmtpConfig.model_validate(CONFIG), emit) as intake:
        assert (await asyncio.to_thread(send, intake.port, (CORPUS / "utf8_plain.eml").read_bytes()))[0] == 250
    assert any("sender: client@example.ru" in r.getMessage() for r in caplog.records if r.name == "mail.log")
