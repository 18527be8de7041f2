"""Which field each column feeds: guessed from its header (English and Russian), adjustable by the user.

Pure: header names in, a mapping `{column index: field}` out; and one row of cells in, an `ImportRow`
(normalised phones and e-mails, amounts in minor units, dates) or the reason it is refused.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from channels.identity import InvalidIdentity, normalize_email, normalize_phone
from crm_store.imports.types import ImportRow, LeadPart, Reject
from gateway.imports.files import Cell

CONTACT_FIELDS = ("name", "first_name", "last_name", "middle_name", "phone", "email", "telegram", "whatsapp",
                  "viber", "vk", "company", "position", "tags")
LEAD_FIELDS = ("title", "pipeline", "stage", "amount", "currency", "owner", "created", "source", "notes")
FIELDS = CONTACT_FIELDS + LEAD_FIELDS
CUSTOM_PREFIXES = ("contact_field:", "lead_field:")
MESSENGERS = ("telegram", "whatsapp", "viber", "vk")

SYNONYMS: dict[str, tuple[str, ...]] = {
    "name": ("name", "full name", "fullname", "contact", "contact name", "client", "customer", "фио", "ф и о",
             "контакт", "клиент", "имя клиента", "полное имя", "имя фамилия", "фамилия имя отчество"),
    "first_name": ("first name", "firstname", "given name", "имя"),
    "last_name": ("last name", "lastname", "surname", "family name", "фамилия"),
    "middle_name": ("middle name", "patronymic", "отчество"),
    "phone": ("phone", "phones", "telephone", "tel", "mobile", "cell", "phone number", "телефон", "телефоны",
              "тел", "мобильный", "мобильный телефон", "рабочий телефон", "номер телефона", "сотовый"),
    "email": ("email", "e mail", "emails", "mail", "email address", "почта", "эл почта", "электронная почта",
              "емейл", "имейл"),
    "telegram": ("telegram", "telegram id", "телеграм", "телеграмм"),
    "whatsapp": ("whatsapp", "ватсап"),
    "viber": ("viber", "вайбер"),
    "vk": ("vk", "vkontakte", "вконтакте"),
    "company": ("company", "organization", "organisation", "account", "компания", "организация", "фирма",
                "название компании"),
    "position": ("position", "job title", "title at company", "должность"),
    "tags": ("tags", "tag", "labels", "теги", "тег", "метки"),
    "title": ("deal", "deal name", "lead", "lead name", "subject", "сделка", "название сделки", "название"),
    "pipeline": ("pipeline", "funnel", "воронка"),
    "stage": ("stage", "status", "deal stage", "этап", "статус", "этап сделки"),
    "amount": ("amount", "sum", "budget", "deal amount", "value", "сумма", "бюджет", "сумма сделки"),
    "currency": ("currency", "валюта"),
    "owner": ("owner", "responsible", "manager", "assignee", "ответственный", "менеджер"),
    "created": ("created", "created at", "date created", "creation date", "date", "дата создания", "создан",
                "создана", "дата"),
    "source": ("source", "lead source", "utm source", "источник"),
    "notes": ("notes", "note", "comment", "comments", "description", "примечание", "примечания", "комментарий",
              "заметка", "заметки", "описание"),
}
_BY_SYNONYM = {synonym: name for name, synonyms in SYNONYMS.items() for synonym in synonyms}
SPLIT = re.compile(r"[,;/\n]+")
TAG_SPLIT = re.compile(r"[,;\n]+")
DATE_FORMATS = ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M",
                "%Y-%m-%d", "%d/%m/%Y", "%d.%m.%y")
MONEY_LIMIT = Decimal(10) ** 13


class BadMapping(ValueError):
    """The mapping names a field that does not exist, or a column the file lacks; `field` says which."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def _key(header: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", header.lower().replace("ё", "е")).split())


def guess(header: Sequence[str], custom: Sequence[str] = ()) -> dict[int, str]:
    """The field each column feeds, by its header; a column is left out when nothing matches, a field used once."""
    taken: set[str] = set()
    mapping: dict[int, str] = {}
    customs = {_key(name): name for name in custom}
    for index, name in enumerate(header):
        key = _key(name)
        field = _BY_SYNONYM.get(key)
        if field is None and key in customs:
            field = customs[key]
        if field is not None and (field not in taken or field in ("phone", "email", "tags")):
            mapping[index] = field
            taken.add(field)
    return mapping


def checked_mapping(given: Mapping[str, str], header: Sequence[str], custom: Sequence[str] = ()) -> dict[int, str]:
    """A user's mapping `{column name or number: field}` as `{index: field}`; BadMapping naming the entry."""
    known = set(FIELDS) | set(custom)
    result: dict[int, str] = {}
    for column, field in given.items():
        field = field.strip()
        if not field or field == "-":
            continue
        if column in header:
            index = header.index(column)
        elif column.isdigit() and 0 <= int(column) < len(header):
            index = int(column)
        else:
            raise BadMapping(f"mapping: the file has no column {column[:80]!r}", f"mapping.{column[:80]}")
        if field not in known and not field.startswith(CUSTOM_PREFIXES):
            raise BadMapping(f"mapping: {field[:80]!r} is not a field (one of {', '.join(FIELDS)}, or "
                             "contact_field:NAME / lead_field:NAME)", f"mapping.{column[:80]}")
        result[index] = field
    if not any(f in ("phone", "email", *MESSENGERS) for f in result.values()):
        raise BadMapping("mapping: no column gives a phone, e-mail or messenger id, so clients could not be told "
                         "apart", "mapping")
    return result


@dataclass(frozen=True, slots=True)
class RowRules:
    """How cells become values: the company's phone region, leads wanted, full names split."""

    region: str
    leads: bool = False
    split_name: bool = False
    currency: str = "RUB"


def to_row(number: int, cells: Sequence[Cell], mapping: Mapping[int, str], rules: RowRules) -> ImportRow | Reject:
    """One row as it will be stored, or the reason it is refused (an unreadable phone is reported, not guessed)."""
    raw = tuple(_text(c) for c in cells)
    values: dict[str, list[Cell]] = {}
    for index, field in mapping.items():
        if index < len(cells) and _text(cells[index]):
            values.setdefault(field, []).append(cells[index])
    try:
        return _row(number, raw, values, rules)
    except ValueError as exc:
        return Reject(number, str(exc)[:500], raw)


def _row(number: int, raw: tuple[str, ...], values: dict[str, list[Cell]], rules: RowRules) -> ImportRow:
    text = {field: " ".join(_text(c) for c in cells).strip() for field, cells in values.items()}
    identities: list[tuple[str, str]] = []
    for cell in values.get("phone", []):
        for part in _parts(_text(cell)):
            try:
                identities.append(("phone", normalize_phone(part, rules.region)))
            except InvalidIdentity:
                raise ValueError(f"phone {part[:60]!r} cannot be read as a number of region {rules.region}") from None
    for cell in values.get("email", []):
        for part in _parts(_text(cell)):
            try:
                identities.append(("email", normalize_email(part)))
            except InvalidIdentity:
                raise ValueError(f"e-mail {part[:80]!r} is not an address") from None
    for kind in MESSENGERS:
        if text.get(kind):
            identities.append((kind, text[kind][:320]))
    identities = list(dict.fromkeys(identities))
    if not identities:
        raise ValueError("no phone, e-mail or messenger id: the client could not be told apart from others")
    name = _name(text, rules.split_name)
    tags = tuple(dict.fromkeys(t.strip()[:60] for c in values.get("tags", []) for t in TAG_SPLIT.split(_text(c))
                               if t.strip()))
    contact_fields = {f.removeprefix("contact_field:"): text[f] for f in text if f.startswith("contact_field:")}
    lead = _lead(values, text, rules) if rules.leads else None
    fingerprint = hashlib.sha256(repr((sorted(identities), name, text.get("company"), lead)).encode()).hexdigest()[:40]
    return ImportRow(number=number, fingerprint=fingerprint, name=name, identities=tuple(identities),
                     company=text.get("company", "")[:300] or None, position=text.get("position", "")[:200] or None,
                     tags=tags, contact_fields=contact_fields, lead=lead, raw=raw)


def _name(text: Mapping[str, str], split: bool) -> str | None:
    parts = [text.get("last_name", ""), text.get("first_name", ""), text.get("middle_name", "")]
    if any(parts):
        composed = " ".join(p for p in parts if p)
        return composed[:500]
    full = " ".join(text.get("name", "").split())
    return full[:500] or None


def name_parts(full: str) -> dict[str, str]:
    """«Иванов Иван Иванович» as last, first and middle name (the order Russian lists use); two words: last first."""
    words = full.split()
    if len(words) == 1:
        return {"first_name": words[0]}
    if len(words) == 2:
        return {"last_name": words[0], "first_name": words[1]}
    return {"last_name": words[0], "first_name": words[1], "middle_name": " ".join(words[2:])} if words else {}


def _lead(values: dict[str, list[Cell]], text: Mapping[str, str], rules: RowRules) -> LeadPart:
    amount = _amount(text["amount"]) if text.get("amount") else None
    currency = (text.get("currency") or rules.currency).upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise ValueError(f"currency {currency[:20]!r} is not a three-letter code")
    created = _when(values["created"][0]) if values.get("created") else None
    fields = {f.removeprefix("lead_field:"): text[f] for f in text if f.startswith("lead_field:")}
    return LeadPart(title=text.get("title", "")[:500] or None, pipeline=text.get("pipeline") or None,
                    stage=text.get("stage") or None, amount=amount, currency=currency if amount is not None else None,
                    owner=text.get("owner") or None, created_at=created, source=text.get("source", "")[:200] or None,
                    notes=text.get("notes", "")[:10_000], fields=fields)


def _amount(raw: str) -> int:
    cleaned = re.sub(r"[^\d,.\-]", "", raw)
    if cleaned.count(",") == 1 and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    cleaned = cleaned.replace(",", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"amount {raw[:40]!r} is not a number") from None
    if not value.is_finite() or abs(value) >= MONEY_LIMIT:
        raise ValueError(f"amount {raw[:40]!r} is out of range")
    return int((value * 100).quantize(Decimal(1)))


def _when(cell: Cell) -> datetime:
    if isinstance(cell, datetime):
        return cell if cell.tzinfo else cell.replace(tzinfo=UTC)
    if isinstance(cell, date):
        return datetime(cell.year, cell.month, cell.day, tzinfo=UTC)
    text = cell.strip()
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"date {text[:40]!r} is not a date like 31.12.2026 or 2026-12-31") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parts(text: str) -> list[str]:
    return [p.strip() for p in SPLIT.split(text) if p.strip()]


def _text(cell: Cell) -> str:
    if isinstance(cell, datetime):
        return cell.isoformat(sep=" ")
    if isinstance(cell, date):
        return cell.isoformat()
    return cell


def preview(row: ImportRow | Reject, split_name: bool) -> dict[str, Any]:
    """A row as the console shows it before the run: what will be stored, or why it will not."""
    if isinstance(row, Reject):
        return {"row": row.number, "error": row.reason}
    shown: dict[str, Any] = {
        "row": row.number, "name": row.name, "phones": [v for k, v in row.identities if k == "phone"],
        "emails": [v for k, v in row.identities if k == "email"],
        "messengers": {k: v for k, v in row.identities if k in MESSENGERS},
        "company": row.company, "position": row.position, "tags": list(row.tags), "fields": dict(row.contact_fields),
    }
    if split_name and row.name:
        shown["name_parts"] = name_parts(row.name)
    if row.lead is not None:
        lead = row.lead
        shown["lead"] = {"title": lead.title, "pipeline": lead.pipeline, "stage": lead.stage,
                         "amount": lead.amount, "currency": lead.currency, "owner": lead.owner,
                         "created_at": lead.created_at.isoformat() if lead.created_at else None,
                         "source": lead.source, "notes": lead.notes, "fields": dict(lead.fields)}
    return shown
