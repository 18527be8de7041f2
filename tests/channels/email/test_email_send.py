"""Replies go out over SMTP threaded and tokened; a refusal or an unreachable relay is reported."""
from __future__ import annotations

from email import message_from_bytes, policy

import pytest
from channels.email.config import OutboundConfig
from channels.email.send import EmailResponder
from channels.types import OutboundMessage
from support.mail_relay import running_relay
from support.postgres_server import free_port


@pytest.fixture
async def relay():  # type: ignore[no-untyped-def]
    async with running_relay() as running:
        yield running


def reply(to: str = "anna@example.ru") -> OutboundMessage:
    return OutboundMessage(channel="email", lead_id=7, message_id="abc123", to=to, text="Добрый день!",
                           subject="Re: [#7] Заявка", thread_ref="<root@example.ru>", in_reply_to="<m2@example.ru>",
                           references=("<root@example.ru>", "<m2@example.ru>"))


def responder(port: int) -> EmailResponder:
    return EmailResponder(OutboundConfig(smtp_host="127.0.0.1", smtp_port=port, starttls=False,
                                         from_address="sales@shop.example", from_name="Shop"))


async def test_a_reply_is_threaded_and_carries_the_ticket_token(relay):
    delivery = await responder(relay.port).send(reply())
    assert delivery.ok and delivery.provider_id == "<abc123@shop.example>"
    [raw] = relay.received
    mail = message_from_bytes(raw, policy=policy.default)
    assert mail["Subject"] == "Re: [#7] Заявка" and mail["From"] == "Shop <sales@shop.example>"
    assert mail["In-Reply-To"] == "<m2@example.ru>" and mail["References"] == "<root@example.ru> <m2@example.ru>"
    assert mail.get_content().strip() == "Добрый день!"


async def test_refusals_and_unreachable_relays_are_reported_not_raised(relay):
    refused = await responder(relay.port).send(reply("gone@example.ru"))
    assert not refused.ok and refused.error.startswith("550")
    unreachable = await responder(free_port()).send(reply())
    assert not unreachable.ok and unreachable.retryable and "unreachable" in unreachable.error
