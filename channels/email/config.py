"""E-mail settings: the `[smtp]`, `[imap.<name>]` and `[email]` sections, typed and checked at load."""
from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, field_validator, model_validator

from channels.section import ChannelSection, Words

Port = Annotated[int, Field(gt=0, lt=65536)]


def _address(value: str) -> str:
    local, at, domain = value.rpartition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in value):
        raise ValueError(f"{value!r} is not an e-mail address")
    return value


Address = Annotated[str, AfterValidator(_address)]


class SmtpConfig(ChannelSection):
    """Inbound SMTP: where to listen, whose mail to take, how big it may be."""

    listen: str = "127.0.0.1:2525"
    domains: Words = ()                    # accept any address at these domains ...
    addresses: Words = ()                  # ... or exactly these addresses
    max_bytes: int = Field(25 * 1024 * 1024, gt=0)
    max_attachment_bytes: int = Field(10 * 1024 * 1024, gt=0)

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        _, _, port = value.rpartition(":")
        if not port.isdigit() or not 0 <= int(port) < 65536:
            raise ValueError(f"{value!r} is not HOST:PORT")
        return value

    @field_validator("domains", "addresses")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.lower() for v in value)

    @field_validator("addresses")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            _address(address)
        return value

    @model_validator(mode="after")
    def _accepts_something(self) -> SmtpConfig:
        if not self.domains and not self.addresses:
            raise ValueError("give domains or addresses to accept mail for")
        return self

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]") or "127.0.0.1", int(port)

    def accepts(self, address: str) -> bool:
        address = address.lower()
        return address in self.addresses or address.rpartition("@")[2] in self.domains


class ImapConfig(ChannelSection):
    """One mailbox polled (or IDLEd) over IMAP; `name` is the `<name>` of its `[imap.<name>]` table."""

    name: str = ""
    host: str = Field(min_length=1)
    username: str = Field(min_length=1)
    password: str = Field(repr=False)
    port: Port = 993
    ssl: bool = True
    folder: str = "INBOX"
    move_to: str | None = None             # else committed messages are marked \\Seen
    poll_seconds: float = Field(30.0, gt=0)
    idle: bool = True
    pipeline: str | None = None            # the funnel this mailbox's new leads enter; unset: the first
    max_attachment_bytes: int = Field(10 * 1024 * 1024, gt=0)


def _named(boxes: dict[str, ImapConfig]) -> dict[str, ImapConfig]:
    # The table's name is the mailbox's name (logs, /readyz, its UIDs on disk).
    return {name: box.model_copy(update={"name": name}) for name, box in boxes.items()}


Mailboxes = Annotated[dict[str, ImapConfig], AfterValidator(_named)]


class OutboundConfig(ChannelSection):
    """Replies: the SMTP relay they go through and who they are from."""

    smtp_host: str
    from_address: Address
    smtp_port: Port = 587
    starttls: bool = True
    ssl: bool = False                       # implicit TLS (port 465) instead of STARTTLS
    username: str | None = None
    password: str | None = Field(None, repr=False)
    from_name: str | None = None
    domain: str | None = None               # for Message-IDs; defaults to from_address's domain
    timeout: float = Field(30.0, gt=0)
