"""E-mail settings, built from the plain tables gateway reads (`[smtp]`, `[imap.<name>]`, `[email]`)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """Inbound SMTP: where to listen, whose mail to take, how big it may be."""

    listen: str = "127.0.0.1:2525"
    domains: tuple[str, ...] = ()          # accept any address at these domains ...
    addresses: tuple[str, ...] = ()        # ... or exactly these addresses
    max_bytes: int = 25 * 1024 * 1024
    max_attachment_bytes: int = 10 * 1024 * 1024
    region: str = "RU"

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        if not port.isdigit() or not 0 <= int(port) < 65536:
            raise ValueError(f"smtp.listen: {self.listen!r} is not HOST:PORT")
        return host.strip("[]") or "127.0.0.1", int(port)

    def accepts(self, address: str) -> bool:
        address = address.lower()
        return address in self.addresses or address.rpartition("@")[2] in self.domains


@dataclass(frozen=True, slots=True)
class ImapConfig:
    """One mailbox polled (or IDLEd) over IMAP."""

    name: str
    host: str
    username: str
    password: str
    port: int = 993
    ssl: bool = True
    folder: str = "INBOX"
    move_to: str | None = None             # else committed messages are marked \\Seen
    poll_seconds: float = 30.0
    idle: bool = True
    max_attachment_bytes: int = 10 * 1024 * 1024
    region: str = "RU"


@dataclass(frozen=True, slots=True)
class OutboundConfig:
    """Replies: the SMTP relay they go through and who they are from."""

    smtp_host: str
    from_address: str
    smtp_port: int = 587
    starttls: bool = True
    ssl: bool = False                       # implicit TLS (port 465) instead of STARTTLS
    username: str | None = None
    password: str | None = None
    from_name: str | None = None
    domain: str | None = None               # for Message-IDs; defaults to from_address's domain
    timeout: float = 30.0


_BOOLS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def _build(cls: Any, where: str, table: Mapping[str, Any], **extra: Any) -> Any:
    known = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = dict(extra)
    for key, value in table.items():
        if key not in known:
            raise ValueError(f"{where}.{key}: unknown setting (known: {', '.join(sorted(known))})")
        kind = str(known[key].type)
        try:
            if kind.startswith("tuple"):
                value = tuple(s for v in (value.split(",") if isinstance(value, str) else value) if (s := str(v).strip().lower()))
            elif kind.startswith("int"):
                value = int(value)
            elif kind.startswith("float"):
                value = float(value)
            elif kind.startswith("bool"):
                value = value if isinstance(value, bool) else _BOOLS[str(value).strip().lower()]
        except (TypeError, ValueError, KeyError):
            raise ValueError(f"{where}.{key}: {value!r} is not a valid {kind}") from None
        values[key] = value
    try:
        return cls(**values)
    except TypeError as exc:
        missing = [f.name for f in fields(cls) if f.name not in values and f.default is f.default_factory]
        raise ValueError(f"{where}: missing {', '.join(missing) or exc}") from None


def _positive(where: str, **values: float) -> None:
    for key, value in values.items():
        if value <= 0:
            raise ValueError(f"{where}.{key}: must be greater than 0, not {value}")


def _port(where: str, port: int) -> None:
    if not 0 < port < 65536:
        raise ValueError(f"{where}: {port} is not a TCP port")


def _address(where: str, value: str) -> None:
    local, at, domain = value.rpartition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in value):
        raise ValueError(f"{where}: {value!r} is not an e-mail address")


def smtp_from_mapping(table: Mapping[str, Any], region: str) -> SmtpConfig:
    """`[smtp]`: listen, domains, addresses, max_bytes, max_attachment_bytes; ValueError names the key."""
    config: SmtpConfig = _build(SmtpConfig, "smtp", table, region=region)
    if not config.domains and not config.addresses:
        raise ValueError("smtp: give domains or addresses to accept mail for")
    for address in config.addresses:
        _address("smtp.addresses", address)
    _positive("smtp", max_bytes=config.max_bytes, max_attachment_bytes=config.max_attachment_bytes)
    config.host_port  # noqa: B018  (validates the port now, not at start)
    return config


def imap_from_mapping(tables: Mapping[str, Mapping[str, Any]], region: str) -> list[ImapConfig]:
    """`[imap.<name>]` tables: host, username, password required; port, ssl, folder, move_to, poll_seconds, idle."""
    configs = []
    for name, table in tables.items():
        if not isinstance(table, Mapping):
            raise ValueError(f"imap.{name}: expected a table of settings, got {table!r}")
        config: ImapConfig = _build(ImapConfig, f"imap.{name}", table, name=name, region=region)
        _port(f"imap.{name}.port", config.port)
        _positive(f"imap.{name}", poll_seconds=config.poll_seconds, max_attachment_bytes=config.max_attachment_bytes)
        if not config.host or not config.username:
            raise ValueError(f"imap.{name}: host and username must not be empty")
        configs.append(config)
    return configs


def outbound_from_mapping(table: Mapping[str, Any]) -> OutboundConfig:
    """`[email]`: smtp_host, from_address required; smtp_port, starttls, ssl, username, password, from_name, domain."""
    config: OutboundConfig = _build(OutboundConfig, "email", table)
    _port("email.smtp_port", config.smtp_port)
    _address("email.from_address", config.from_address)
    _positive("email", timeout=config.timeout)
    return config
