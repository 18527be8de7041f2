"""Each channel's connection as /readyz shows it: connected, connecting, standby, down (with the last error)."""
from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.channels_wiring import LISTENERS
from gateway.keys import AMI
from gateway.voice.lease import VOICE_LEASE


def channel_states(app: web.Application) -> dict[str, dict[str, Any]]:
    states = {name: state.as_json() for name, state in app[LISTENERS].states().items()} if LISTENERS in app else {}
    if AMI in app:
        adapter = app[AMI]
        if adapter.logged_in.is_set():
            # Connected everywhere (actions work in any process), but only the lease holder acts on events.
            standby = VOICE_LEASE in app and not app[VOICE_LEASE].held
            states["ami"] = {"state": "standby" if standby else "connected", "error": None}
        elif adapter.status in ("connecting", "logging in", "not started"):
            states["ami"] = {"state": "connecting", "error": None}
        else:
            states["ami"] = {"state": "down", "error": adapter.status}
    return states
