"""Typed application and request state keys."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any
from datetime import datetime

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from crm_store.ingest import Ingestor
from crm_store.types import Permissions
from channels.types import Responder
from gateway.attachments import AttachmentStore
from gateway.auth_types import Principal
from gateway.dispatch import Dispatcher
from gateway.hub import Hub
from gateway.intake import Intake
from gateway.metrics import Metrics
from gateway.settings import Settings
from gateway.voice.service import VoiceService
from channels.asterisk.adapter import AmiAdapter

SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Callable[[], datetime])
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey("sessions", async_sessionmaker[AsyncSession])
INGESTOR = web.AppKey("ingestor", Ingestor)
INTAKE = web.AppKey("intake", Intake)
PERMISSIONS = web.AppKey("permissions", Permissions)
HUB = web.AppKey("hub", Hub)
DISPATCHER = web.AppKey("dispatcher", Dispatcher)
RESPONDERS = web.AppKey("responders", dict[str, Responder])
ATTACHMENTS = web.AppKey("attachments", AttachmentStore)
VOICE = web.AppKey("voice", VoiceService)
AMI = web.AppKey("ami", AmiAdapter)
METRICS = web.AppKey("metrics", Metrics)
CHANNEL_LISTENERS = web.AppKey("channel_listeners", list[Any])   # for their connection states in /metrics

PRINCIPAL = web.RequestKey("principal", Principal)
