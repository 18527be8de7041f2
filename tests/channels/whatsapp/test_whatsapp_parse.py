"""The pure step: WhatsApp message objects as Meta documents them, in; InboundContacts out."""
from __future__ import annotations

from typing import Any

from channels.types import Confidence
from channels.whatsapp.parse import messages_of, parse_message
from whatsapp_fakes import WA_ID, delivery

NAMES = {WA_ID: "Арам"}


def parse(kind: str, body: Any, **extra: Any):  # type: ignore[no-untyped-def]
    return parse_message({"from": WA_ID, "id": f"wamid.{kind}", "timestamp": "1800000000", "type": kind,
                          kind: body, **extra}, NAMES, "RU")


def test_buttons_lists_and_template_buttons_read_as_what_the_client_chose():
    button = parse("interactive", {"type": "button_reply", "button_reply": {"id": "yes-1", "title": "Да, звоните"}})
    assert (button.contact.text, button.contact.attributes["reply_id"]) == ("Да, звоните", "yes-1")
    row = parse("interactive", {"type": "list_reply", "list_reply": {"id": "r2", "title": "Доставка",
                                                                     "description": "..."}})
    assert row.contact.text == "Доставка"
    template = parse("button", {"text": "Stop promotions", "payload": "STOP"})
    assert (template.contact.text, template.contact.attributes["reply_id"]) == ("Stop promotions", "STOP")


def test_location_reaction_contacts_and_unknown_kinds():
    place = parse("location", {"latitude": 40.18, "longitude": 44.51, "name": "Офис", "address": "Ереван"}).contact
    assert place.attributes["latitude"] == "40.18" and place.text.startswith("Офис Ереван\n📍 40.18")
    reaction = parse("reaction", {"message_id": "wamid.OUT1", "emoji": "👍"}).contact
    assert (reaction.text, reaction.attributes["reaction_to"]) == ("👍", "wamid.OUT1")
    cards = parse("contacts", [{"name": {"formatted_name": "Гаяне", "first_name": "Гаяне"},
                                "phones": [{"phone": "+374 10 123456", "type": "WORK", "wa_id": "37410123456"}]}])
    claims = {(c.kind, c.value, c.confidence) for c in cards.contact.identities}
    assert ("phone", "+37410123456", Confidence.MENTIONED) in claims and "Гаяне" in cards.contact.text
    odd = parse_message({"from": WA_ID, "id": "wamid.U", "type": "unsupported",
                         "errors": [{"code": 131051, "title": "Message type unknown"}]}, NAMES, "RU")
    assert (odd.contact.text, odd.contact.attributes["whatsapp_type"], odd.media) == ("", "unsupported", None)


def test_media_refs_and_names():
    voice = parse("audio", {"id": "m1", "mime_type": "audio/ogg; codecs=opus", "voice": True})
    assert voice.media is not None and voice.media.content_type == "audio/ogg"
    assert voice.media.filename.endswith(".ogg")
    sticker = parse("sticker", {"id": "s1", "mime_type": "image/webp", "animated": False})
    assert sticker.media is not None and sticker.media.media_id == "s1"


def test_every_message_of_every_change_with_its_profile_name():
    payload = delivery({"from": WA_ID, "id": "wamid.1", "type": "text", "text": {"body": "a"}})
    payload["entry"].append(delivery({"from": WA_ID, "id": "wamid.2", "type": "text", "text": {"body": "b"}})
                            ["entry"][0])
    found = list(messages_of(payload))
    assert [m["id"] for m, _ in found] == ["wamid.1", "wamid.2"] and found[0][1][WA_ID] == "Арам Петросян"
