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
from gateway.dispatch import Dispatcher
from gateway.hub import Hub
from gateway.intake import Intake
from gateway.settings import Settings
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
DISPATCHER = web.AppKey("dispatcher", Dispatcher)
RESPONDERS = web.AppKey("responders", dict[str, Responder])
ATTACHMENTS = web.AppKey("attachments", AttachmentStore)
VOICE = web.AppKey("voice", VoiceService)
AMI = web.AppKey("ami", AmiAdapter)

PRINCIPAL = web.RequestKey("principal", Principal)
