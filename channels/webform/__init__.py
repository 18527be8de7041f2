"""Web forms: `POST /forms/{form_key}` from any website, plus an embeddable form. The reference adapter.

Gateway mounts it before the app starts:

    channel = channels.webform.build(settings.forms, emit, region=settings.phone.region,
                                     trusted_proxies=settings.http.trusted_proxies)
    channel.add_routes(app)            # or: app.add_routes(channel.routes())
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from channels.types import Emit
from channels.webform.adapter import WebFormChannel
from channels.webform.config import DEFAULT_FORM, FormConfig, form_from_mapping, forms_from_mapping
from channels.webform.parse import FormError, parse_submission
from channels.webform.signature import sign


def build(
    forms: Mapping[str, Mapping[str, Any]] | None,
    emit: Emit,
    *,
    region: str | None,
    trusted_proxies: Iterable[str] = (),
) -> WebFormChannel:
    """The channel for the `[forms.<key>]` tables (plus `default`); raises ValueError on a bad table."""
    return WebFormChannel(forms_from_mapping(forms), emit, region=region, trusted_proxies=trusted_proxies)


__all__ = ["DEFAULT_FORM", "FormConfig", "FormError", "WebFormChannel", "build", "form_from_mapping",
           "forms_from_mapping", "parse_submission", "sign"]
