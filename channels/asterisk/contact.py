"""A call, the moment it starts, as the channel-neutral InboundContact that opens or joins its lead."""
from __future__ import annotations

from channels.asterisk.types import CallStarted, Direction
from channels.types import Confidence, IdentityClaim, InboundContact
from vocabulary.channels import VOICE


def contact_of(call: CallStarted) -> InboundContact:
    """The caller (or, for a click-to-call, the client dialled) as a contact; the Linkedid is the event id."""
    e164 = call.caller if call.caller and call.caller.startswith("+") else None
    attributes = {"call_id": call.call_id, "direction": call.direction.value}
    if call.did:
        attributes["did"] = call.did
    if call.queue:
        attributes["queue"] = call.queue
    if call.extension:
        attributes["extension"] = call.extension
    if call.caller and not e164:
        attributes["caller_raw"] = call.caller
    verb = "Incoming call" if call.direction is Direction.INBOUND else "Outgoing call"
    return InboundContact(
        channel=VOICE, event_id=call.call_id, source_id=call.caller or "anonymous", received_at=call.at,
        name=call.caller_name if call.direction is Direction.INBOUND else None, phone=e164,
        text=f"{verb}" + (f" to {call.did}" if call.did and call.direction is Direction.INBOUND else ""),
        attributes=attributes, lead_hint=call.lead_id,
        # The network vouches for a caller id as much as a mail server for a sender: the channel's own identity.
        identities=(IdentityClaim("phone", e164, Confidence.VERIFIED),) if e164 else (),
    )
