"""E-mail end to end: SMTP in, a threaded ticket, a reply out through the relay, the answer joins it."""
from __future__ import annotations

import asyncio
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from crm_store.types import Role
from support.mail_relay import running_relay
from support.postgres_server import free_port
from support.smtp_client import send_mail

CORPUS = Path(__file__).parent.parent / "channels" / "email" / "corpus"


@pytest.fixture
def smtp_port() -> int:
    """Per test, not per module: a port released between tests is up for grabs by the other parallel workers."""
    return free_port()


@pytest.fixture
async def relay():  # type: ignore[no-untyped-def]
    async with running_relay() as running:
        yield running


@pytest.fixture
def settings_overrides(relay, smtp_port: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {"smtp": {"listen": f"127.0.0.1:{smtp_port}", "domains": ["shop.example"]},
            "email": {"smtp_host": "127.0.0.1", "smtp_port": relay.port, "starttls": False,
                      "from_address": "sales@shop.example", "from_name": "Shop"}}


async def send(port: int, raw: bytes) -> int:
    return await asyncio.to_thread(send_mail, port, raw, sender="anna.smirnova@example.ru")


async def leads(api, headers) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    return (await (await api.client.get("/api/v1/leads?channel=email", headers=headers)).json())["items"]


async def test_a_mail_thread_is_one_ticket_and_replies_go_out_threaded(api, relay, smtp_port):
    await api.add_user("boss", Role.SUPERVISOR)
    headers = await api.login("boss")
    assert await send(smtp_port, (CORPUS / "utf8_plain.eml").read_bytes()) == 250
    [lead] = await leads(api, headers)
    assert lead["subject"] == "Заявка на доставку" and lead["contact"]["identity"]["value"] == "anna.smirnova@example.ru"

    sent = await api.client.post(f"/api/v1/leads/{lead['id']}/reply", json={"text": "Когда вам удобно?"},
                                 headers=headers)
    assert sent.status == 201, await sent.text()
    [raw] = relay.received
    out = message_from_bytes(raw, policy=policy.default)
    assert out["To"] == "anna.smirnova@example.ru" and out["Subject"] == f"Re: [#{lead['id']}] Заявка на доставку"
    assert out["In-Reply-To"] == "<utf8-1@example.ru>" and "<utf8-1@example.ru>" in out["References"]

    answer = (f"From: Anna <anna.smirnova@example.ru>\r\nTo: sales@shop.example\r\n"
              f"Subject: Re: [#{lead['id']}] Заявка на доставку\r\nMessage-ID: <answer-1@example.ru>\r\n"
              f"In-Reply-To: {out['Message-ID']}\r\nReferences: <utf8-1@example.ru> {out['Message-ID']}\r\n"
              "Content-Type: text/plain; charset=utf-8\r\n\r\nЗавтра после обеда.\r\n\r\n"
              "On Mon, Shop wrote:\r\n> Когда вам удобно?\r\n").encode()
    assert await send(smtp_port, answer) == 250
    token_only = (f"From: anna.smirnova@example.ru\r\nTo: sales@shop.example\r\nSubject: [#{lead['id']}] ещё\r\n"
                  "Message-ID: <answer-2@example.ru>\r\n\r\nИ ещё вопрос.\r\n").encode()
    assert await send(smtp_port, token_only) == 250
    assert await send(smtp_port, (CORPUS / "autoreply.eml").read_bytes()) == 250

    [same] = await leads(api, headers)
    card = await (await api.client.get(f"/api/v1/leads/{same['id']}", headers=headers)).json()
    assert [(t["direction"], t["text"]) for t in card["timeline"]] == [
        ("inbound", "Здравствуйте! Перезвоните мне, пожалуйста: +7 912 345-67-89"),
        ("outbound", "Когда вам удобно?"), ("inbound", "Завтра после обеда."), ("inbound", "И ещё вопрос.")]
    assert card["timeline"][1]["delivery"] == "sent"
