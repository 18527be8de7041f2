"""Channel names as stored on leads and interactions, used as capacity keys and in frames."""
from __future__ import annotations

from typing import Final

VOICE: Final = "voice"
EMAIL: Final = "email"
FORM: Final = "form"
MANUAL: Final = "manual"          # a lead entered by staff in the console
TELEGRAM: Final = "telegram"
WHATSAPP: Final = "whatsapp"
VIBER: Final = "viber"
VK: Final = "vk"

MESSENGERS: Final = (TELEGRAM, WHATSAPP, VIBER, VK)
