"""Sending one message to the gateway's SMTP listener, as a mail server on the Internet would."""
from __future__ import annotations

import smtplib
import socket
import time


def send_mail(port: int, raw: bytes, *, sender: str, recipient: str = "sales@shop.example") -> int:
    """The DATA reply code; waits (boundedly) for the listener, which starts in the background with the app."""
    for _ in range(600):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
            break
        except OSError:
            time.sleep(0.1)
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        client.ehlo()
        client.mail(sender)
        client.rcpt(recipient)
        return client.data(raw)[0]
