"""Web forms: `POST /forms/{form_key}` from any website, plus an embeddable form. The reference adapter.

Gateway mounts it before the app starts, through `build(settings.forms, context).routes`.
"""
from __future__ import annotations

from collections.abc import Mapping

from channels.plug import BuildContext, ChannelParts
from channels.webform.adapter import WebFormChannel
from channels.webform.config import DEFAULT_FORM, FormConfig, Forms
from channels.webform.parse import FormError, parse_submission
from channels.webform.signature import sign


def build(forms: Mapping[str, FormConfig], context: BuildContext) -> ChannelParts:
    """The routes for the `[forms.<key>]` sections (`default` among them)."""
    channel = WebFormChannel(dict(forms), context.emit, region=context.region,
                             trusted_proxies=context.trusted_proxies)
    return ChannelParts(routes=tuple(channel.routes()))


__all__ = ["DEFAULT_FORM", "FormConfig", "FormError", "Forms", "WebFormChannel", "build",
           "parse_submission", "sign"]
