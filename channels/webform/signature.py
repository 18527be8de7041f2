"""Optional HMAC signatures for server-to-server posts: a shared secret proves who sent the body, and when."""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from channels.webform.config import FormConfig
from channels.webform.parse import FormError

TIMESTAMP_HEADER = "X-Switchboard-Timestamp"
SIGNATURE_HEADER = "X-Switchboard-Signature"
# Wide enough for honest clock drift, narrow enough that a captured request soon stops working.
TOLERANCE_SECONDS = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Switchboard-Signature` value: `sha256=` + hex HMAC-SHA256 over `"{timestamp}." + body`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(form: FormConfig, headers: Mapping[str, str], body: bytes, *, now: float) -> None:
    """Raise FormError (401) unless the body is signed as the form asks; unsigned is fine if not required."""
    if not form.hmac_secret:
        return
    timestamp, signature = headers.get(TIMESTAMP_HEADER), headers.get(SIGNATURE_HEADER)
    if timestamp is None and signature is None:
        if form.require_signature:
            raise FormError("signature_required", None,
                            f"this form needs {TIMESTAMP_HEADER} and {SIGNATURE_HEADER}", status=401)
        # The browser embed cannot hold a secret; a form that allows it accepts unsigned posts.
        return
    if not timestamp or not signature or not timestamp.strip().isdigit():
        raise FormError("bad_signature", None, f"send both {TIMESTAMP_HEADER} (unix seconds) and "
                        f"{SIGNATURE_HEADER}", status=401)
    stamp = int(timestamp.strip())
    if abs(now - stamp) > TOLERANCE_SECONDS:
        # A replayed request: the signature may be right, but it is too old (or from the future).
        raise FormError("stale_signature", None, f"{TIMESTAMP_HEADER} is more than "
                        f"{TOLERANCE_SECONDS} s away from our clock", status=401)
    expected = sign(form.hmac_secret, stamp, body)
    # Constant-time, so response timing does not reveal how many leading characters were right.
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
        raise FormError("bad_signature", None, "the signature does not match the body", status=401)
