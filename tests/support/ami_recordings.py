"""The real AMI recordings shipped with the simulated PBX (simulators/pbx/recordings), read as a client parses them."""
from __future__ import annotations

from simulators.pbx.server import AMI_DIR

RECORDINGS = ("queue_answered", "direct_answered", "queue_abandoned", "concurrent_10_calls",
              "sip_queue_answered", "sip_queue_abandoned")


def recorded_events(name: str) -> list[dict[str, str]]:
    """Every `Event:` frame of a recording, first value of a repeated key kept (as panoramisk keeps a list)."""
    text = (AMI_DIR / f"{name}.ami").read_bytes().decode("utf-8")
    events = []
    for block in text.split("\r\n\r\n"):
        frame: dict[str, str] = {}
        for line in block.split("\r\n"):
            key, sep, value = line.partition(": ")
            if sep:
                frame.setdefault(key, value)
        if "Event" in frame:
            events.append(frame)
    return events
