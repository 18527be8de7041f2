"""Typed application and request state keys."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aiohttp import web

from crm_store.ingest import Ingestor
from crm_store.session import Sessions, Store
from crm_store.types import Permissions
from channels.types import Responder
from gateway.attachments import AttachmentStore
from gateway.auth_types import Principal
from gateway.hub import Hub
from gateway.imports.runner import ImportRunner
from gateway.intake import Intake
from gateway.metrics import Metrics
from gateway.notifier import Notifier
from gateway.routing.ports import PresenceHooks, Routing, WallboardView
from gateway.settings import Settings
from gateway.signed_in import SignedInCache
from gateway.voice.service import VoiceService
from channels.asterisk.adapter import AmiAdapter

SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Callable[[], datetime])
ENGINE = web.AppKey("engine", Store)
SESSIONS = web.AppKey("sessions", Sessions)
INGESTOR = web.AppKey("ingestor", Ingestor)
INTAKE = web.AppKey("intake", Intake)
PERMISSIONS = web.AppKey("permissions", Permissions)
HUB = web.AppKey("hub", Hub)
SIGNED_IN = web.AppKey("signed_in", SignedInCache)     # tokens checked in the last seconds (gateway.signed_in)
ROUTING = web.AppKey("routing", Routing)          # tasks, presence, agents: what voice and the API may ask
NOTIFIER = web.AppKey("notifier", Notifier)
SCREENS = web.AppKey("screens", PresenceHooks)
WALLBOARD = web.AppKey("wallboard", WallboardView)
RESPONDERS = web.AppKey("responders", dict[str, Responder])
ATTACHMENTS = web.AppKey("attachments", AttachmentStore)
VOICE = web.AppKey("voice", VoiceService)
AMI = web.AppKey("ami", AmiAdapter)
METRICS = web.AppKey("metrics", Metrics)
# A task's due time was set or changed: the reminder timer (gateway/tasks/reminders.py) looks again.
TASK_CHANGED = web.AppKey("task_changed", Callable[[int, datetime], None])

PRINCIPAL = web.RequestKey("principal", Principal)
IMPORTS = web.AppKey("imports", ImportRunner)
