"""Replies go back through the client's channel and their delivery is shown; attachments are listed and served."""
from __future__ import annotations

from datetime import UTC, datetime

from channels.types import (
    Attachment,
    Confidence,
    Delivery,
    IdentityClaim,
    InboundContact,
    OutboundMessage,
)
from crm_store.types import Role
from gateway.keys import INTAKE, RESPONDERS


class RecordingResponder:
    channel = "chat"

    def __init__(self, fail: str | None = None) -> None:
        self.sent: list[OutboundMessage] = []
        self.fail = fail

    async def send(self, message: OutboundMessage) -> Delivery:
        self.sent.append(message)
        if self.fail:
            return Delivery(ok=False, error=self.fail)
        return Delivery(ok=True, provider_id="m-1")


def chat_message(text: str, **extra) -> InboundContact:  # type: ignore[no-untyped-def]
    return InboundContact(
        channel="chat", event_id=f"chat:{text}", source_id="chat-42", received_at=datetime.now(UTC),
        name="Ирина", text=text, thread_ref="chat-42",
        identities=(IdentityClaim("chat", "user-42", Confidence.VERIFIED),), **extra)


async def test_reply_goes_back_through_the_chat_and_is_on_the_timeline(api):
    responder = RecordingResponder()
    api.client.app[RESPONDERS]["chat"] = responder
    olga = await api.add_user("olga", Role.MANAGER)
    headers = await api.login("olga")
    accepted = await api.client.app[INTAKE].emit(chat_message("Здравствуйте"))
    forbidden = await api.client.post(f"/api/v1/leads/{accepted.lead_id}/reply", json={"text": "hi"},
                                      headers=headers)
    assert forbidden.status == 403                       # not olga's lead yet
    boss = await api.add_user("boss", Role.SUPERVISOR)
    boss_headers = await api.login("boss")
    await api.client.patch(f"/api/v1/leads/{accepted.lead_id}", json={"assignee_id": olga}, headers=boss_headers)
    sent = await api.client.post(f"/api/v1/leads/{accepted.lead_id}/reply", json={"text": "Добрый день!"},
                                 headers=headers)
    assert sent.status == 201, await sent.text()
    assert (await sent.json())["delivery"] == "sent"
    [message] = responder.sent
    assert (message.to, message.thread_ref, message.text) == ("chat-42", "chat-42", "Добрый день!")
    card = await (await api.client.get(f"/api/v1/leads/{accepted.lead_id}", headers=headers)).json()
    last = card["timeline"][-1]
    assert (last["direction"], last["delivery"], last["author_id"]) == ("outbound", "sent", olga)
    assert card["lead"]["status"] == "in_progress"
    assert boss  # the supervisor who assigned it


async def test_a_failed_delivery_is_shown_not_swallowed(api):
    api.client.app[RESPONDERS]["chat"] = RecordingResponder(fail="bot was blocked by the user")
    await api.add_user("boss", Role.SUPERVISOR)
    headers = await api.login("boss")
    accepted = await api.client.app[INTAKE].emit(chat_message("hello"))
    failed = await api.client.post(f"/api/v1/leads/{accepted.lead_id}/reply", json={"text": "hi"},
                                   headers=headers)
    body = await failed.json()
    assert failed.status == 502 and body["error"]["message"] == "bot was blocked by the user"
    card = await (await api.client.get(f"/api/v1/leads/{accepted.lead_id}", headers=headers)).json()
    assert card["timeline"][-1]["delivery"] == "failed"


async def test_a_lead_from_a_form_cannot_be_answered_by_chat(api):
    await api.add_user("boss", Role.SUPERVISOR)
    headers = await api.login("boss")
    posted = await api.client.post("/forms/default", data={"phone": "+79123456789"})
    lead_id = (await posted.json())["lead_id"]
    response = await api.client.post(f"/api/v1/leads/{lead_id}/reply", json={"text": "hi"}, headers=headers)
    assert response.status == 422 and (await response.json())["error"]["field"] == "channel"


async def test_attachments_are_listed_and_downloaded_only_by_who_may_see_the_lead(api):
    await api.add_user("boss", Role.SUPERVISOR)
    await api.add_user("ivan", Role.OPERATOR)
    contact = chat_message("see photo", attachments=(
        Attachment("<script>.html", "text/html", 12, b"<script>x</script>"),
        Attachment("huge.mov", "video/quicktime", 900_000_000)))
    accepted = await api.client.app[INTAKE].emit(contact)
    headers = await api.login("boss")
    card = await (await api.client.get(f"/api/v1/leads/{accepted.lead_id}", headers=headers)).json()
    item = card["timeline"][0]
    files = item["attributes"]["attachments"]
    assert [(f["filename"], f["size"], f["ref"] is not None) for f in files] == [
        ("<script>.html", 12, True), ("huge.mov", 900_000_000, False)]
    url = f"/api/v1/interactions/{item['id']}/attachments/0"
    got = await api.client.get(url, headers=headers)
    assert got.status == 200 and await got.read() == b"<script>x</script>"
    assert got.headers["Content-Type"] == "application/octet-stream"
    assert got.headers["Content-Disposition"].startswith("attachment;")
    assert (await api.client.get(url, headers=await api.login("ivan"))).status == 403
    assert (await api.client.get(f"/api/v1/interactions/{item['id']}/attachments/1", headers=headers)).status == 404
