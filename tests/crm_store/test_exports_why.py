"""The lead export's `routing_why`: routing's explanation in words, with the offer round when it was not the first."""
from __future__ import annotations

from crm_store.exports import _why


def test_a_later_round_is_named_and_the_first_is_not() -> None:
    first = {"policy": "longest_idle", "chosen": ["7"], "candidates": [{"agent_id": "7"}],
             "skipped": [{"agent_id": "8", "reason": "declined"}], "note": ""}
    assert _why(first) == ("longest_idle", "chosen 7 of 1 candidates; declined: 8")
    assert _why({**first, "round": 1}) == _why(first)       # stored before rounds: no key at all
    assert _why({**first, "round": 3}) == ("longest_idle", "chosen 7 of 1 candidates; declined: 8; round 3")
