"""Custom fields of leads, contacts and companies, and the directories some of them link to.

Values are kept in the record's JSON (`leads.attributes["fields"]`, `contacts.custom`,
`companies.custom`), keyed by the field's name, and are checked here before they are stored: a
value that does not fit its field is `Invalid` naming `fields.<name>` and saying why. A directory
field stores the id of the directory's value, so renaming "Мсква" to "Москва" mends every record.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from crm_store import config_cache
from crm_store.errors import Conflict, Invalid, NotFound, found
from crm_store.models import Directory, DirectoryValue, FieldDefinition

TEXT_LIMIT = 500
MULTI_LIMIT = 50
NAME = re.compile(r"[a-z][a-z0-9_]{0,59}")
CURRENCY = re.compile(r"[A-Z]{3}")
MONEY_LIMIT = Decimal("1e15")


class Entity(StrEnum):
    LEAD = "lead"
    CONTACT = "contact"
    COMPANY = "company"


class Kind(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    MONEY = "money"
    DATE = "date"
    CHOICE = "choice"
    MULTI_CHOICE = "multi_choice"
    DIRECTORY = "directory"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """What an admin says about a field; None leaves a setting as it is on a change."""

    label: str | None = None
    label_ru: str | None = None
    kind: Kind | None = None
    choices: tuple[str, ...] | None = None
    directory_id: int | None = None
    currency: str | None = None
    required: bool | None = None
    required_at: tuple[str, ...] | None = None
    position: int | None = None
    active: bool | None = None


# -- definitions ------------------------------------------------------------------------------------

async def definitions(session: AsyncSession, entity: Entity | None = None, *,
                      active_only: bool = False) -> list[FieldDefinition]:
    query = select(FieldDefinition).order_by(FieldDefinition.entity, FieldDefinition.position, FieldDefinition.id)
    if entity is not None:
        query = query.where(FieldDefinition.entity == entity.value)
    if active_only:
        query = query.where(FieldDefinition.active.is_(True))
    return list(await session.scalars(query))


async def add_definition(session: AsyncSession, entity: Entity, name: str, spec: FieldSpec) -> FieldDefinition:
    if not NAME.fullmatch(name):
        raise Invalid("a field's name is lower-case latin letters, digits and _ (up to 60), starting with a letter",
                      "name")
    if await session.scalar(select(FieldDefinition.id).where(FieldDefinition.entity == entity.value,
                                                             FieldDefinition.name == name)) is not None:
        raise Conflict(f"the {entity.value} field {name!r} already exists", "name")
    last = await session.scalar(select(func.max(FieldDefinition.position)).where(FieldDefinition.entity == entity.value))
    row = FieldDefinition(entity=entity.value, name=name, label=spec.label or name, label_ru=spec.label_ru,
                          kind=(spec.kind or Kind.TEXT).value, choices=list(spec.choices or ()),
                          directory_id=spec.directory_id, currency=spec.currency, required=bool(spec.required),
                          required_at=list(spec.required_at or ()),
                          position=spec.position if spec.position is not None else (last or 0) + 1,
                          active=spec.active if spec.active is not None else True)
    await _check_definition(session, row)
    session.add(row)
    await session.flush()
    return row


async def change_definition(session: AsyncSession, field_id: int, spec: FieldSpec) -> tuple[FieldDefinition, dict[str, Any]]:
    """Apply an admin's change; the kind of a field with values cannot change (old values would not fit)."""
    row = found(await session.get(FieldDefinition, field_id), f"field {field_id} not found")
    diff: dict[str, Any] = {}
    for name in FieldSpec.__slots__:
        value = getattr(spec, name)
        if value is None:
            continue
        value = value.value if isinstance(value, StrEnum) else list(value) if isinstance(value, tuple) else value
        if getattr(row, name) != value:
            diff[name] = [getattr(row, name), value]
            setattr(row, name, value)
    if "kind" in diff:
        raise Invalid("a field's kind cannot change: add a new field and retire this one", "kind")
    await _check_definition(session, row)
    return row, diff


async def _check_definition(session: AsyncSession, row: FieldDefinition) -> None:
    kind = Kind(row.kind)
    if kind in (Kind.CHOICE, Kind.MULTI_CHOICE):
        cleaned = [c.strip() for c in row.choices if c.strip()]
        if not cleaned:
            raise Invalid(f"a {kind.value} field needs its choices", "choices")
        if len(set(cleaned)) != len(cleaned):
            raise Invalid("the choices repeat a value", "choices")
        row.choices = cleaned
    elif row.choices:
        raise Invalid(f"a {kind.value} field has no choices", "choices")
    if kind is Kind.DIRECTORY:
        if row.directory_id is None or await session.get(Directory, row.directory_id) is None:
            raise Invalid("a directory field names an existing directory", "directory_id")
    elif row.directory_id is not None:
        raise Invalid(f"a {kind.value} field links no directory", "directory_id")
    if row.currency is not None and (kind is not Kind.MONEY or not CURRENCY.fullmatch(row.currency)):
        raise Invalid("currency is a three-letter code (RUB, USD) of a money field", "currency")
    if row.required_at and row.entity != Entity.LEAD:
        raise Invalid("only lead fields can be required at a status", "required_at")


async def seed_lead_fields(sessions: async_sessionmaker[AsyncSession], specs: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The `[leads.fields]` setting as lead field definitions: each one not defined yet is added, so what an
    admin changed since in the console stays. Returns the names added."""
    try:
        async with sessions() as session, session.begin():
            existing = set(await session.scalars(select(FieldDefinition.name)
                                                 .where(FieldDefinition.entity == Entity.LEAD.value)))
            added = []
            for position, (name, spec) in enumerate(specs.items(), start=1):
                if name in existing:
                    continue
                choices = tuple(spec.get("choices") or ())
                session.add(FieldDefinition(
                    entity=Entity.LEAD.value, name=name, label=spec.get("label") or name, label_ru=spec.get("label_ru"),
                    kind=(Kind.CHOICE if choices else Kind.TEXT).value, choices=list(choices), directory_id=None,
                    currency=None, required=bool(spec.get("required")),
                    required_at=[str(s) for s in spec.get("required_at") or ()], position=position, active=True))
                added.append(name)
            return added
    except IntegrityError:      # another gateway seeded the same fields first: theirs stand
        return []


def required_by_status(defs: Iterable[FieldDefinition], closed: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Lead status -> the fields a lead must have filled to move there (`required`: every closing status)."""
    needed: dict[str, list[str]] = {}
    closing = tuple(closed)
    for d in defs:
        if d.entity != Entity.LEAD or not d.active:
            continue
        for status in d.required_at or (closing if d.required else ()):
            needed.setdefault(str(status), []).append(d.name)
    return {status: tuple(names) for status, names in needed.items()}


def lead_requirements(session: Session, closed: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """`required_by_status` of the lead fields, kept between requests (crm_store.config_cache): a copy."""
    def load() -> dict[str, tuple[str, ...]]:
        rows = session.scalars(select(FieldDefinition).where(FieldDefinition.entity == Entity.LEAD.value)
                               .order_by(FieldDefinition.position, FieldDefinition.id))
        return required_by_status(rows, closed)
    return dict(config_cache.cached(session, ("lead_requirements", closed), load))


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, (str, list, dict)) and not value)


# -- values -----------------------------------------------------------------------------------------

async def checked_values(session: AsyncSession, entity: Entity, given: Mapping[str, Any],
                         current: Mapping[str, Any]) -> dict[str, Any]:
    """`current` with `given` applied, each value checked against its field; a blank value removes the field."""
    if not given:
        return dict(current)
    defs = {d.name: d for d in await definitions(session, entity)}
    merged = dict(current)
    for name, raw in given.items():
        field = f"fields.{name[:60]}"
        d = defs.get(name)
        if d is None or not d.active:
            raise Invalid(f"unknown {entity.value} field {name[:60]!r}", field)
        value = await _checked(session, d, raw, field)
        if is_blank(value):
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


async def _checked(session: AsyncSession, d: FieldDefinition, raw: Any, field: str) -> Any:
    kind = Kind(d.kind)
    if isinstance(raw, str):
        raw = raw.strip()
    if is_blank(raw):
        return None
    if kind is Kind.TEXT:
        if not isinstance(raw, str):
            raise Invalid(f"{d.name} is text", field)
        if len(raw) > TEXT_LIMIT:
            raise Invalid(f"{d.name} is at most {TEXT_LIMIT} characters", field)
        return raw
    if kind is Kind.NUMBER:
        return _number(d.name, raw, field)
    if kind is Kind.MONEY:
        return _money(d, raw, field)
    if kind is Kind.DATE:
        try:
            if not isinstance(raw, str) or not raw.isascii():
                raise ValueError
            return date.fromisoformat(raw).isoformat()
        except ValueError:
            raise Invalid(f"{d.name} is a date like 2026-12-31", field) from None
    if kind is Kind.CHOICE:
        if raw not in d.choices:
            raise Invalid(f"{d.name} is one of {', '.join(d.choices)}", field)
        return raw
    if kind is Kind.MULTI_CHOICE:
        if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw) or len(raw) > MULTI_LIMIT:
            raise Invalid(f"{d.name} is a list of choices", field)
        wrong = [x for x in raw if x not in d.choices]
        if wrong:
            raise Invalid(f"{d.name}: {wrong[0][:60]!r} is not one of {', '.join(d.choices)}", field)
        return [c for c in d.choices if c in raw]        # the admin's order, each once
    return await _directory_value(session, d, raw, field)


def _number(name: str, raw: Any, field: str) -> int | float:
    if isinstance(raw, bool):
        raise Invalid(f"{name} is a number", field)
    if isinstance(raw, str):
        try:
            raw = float(raw.replace(",", ".").replace(" ", "")) if not re.fullmatch(r"-?[0-9]{1,15}", raw) else int(raw)
        except ValueError:
            raise Invalid(f"{name} is a number", field) from None
    if not isinstance(raw, (int, float)) or (isinstance(raw, float) and not math.isfinite(raw)) or abs(raw) >= 1e15:
        raise Invalid(f"{name} is a number (less than 10^15)", field)
    return int(raw) if isinstance(raw, float) and raw.is_integer() else raw


def _money(d: FieldDefinition, raw: Any, field: str) -> dict[str, str]:
    currency = d.currency or "RUB"
    amount = raw
    if isinstance(raw, dict):
        amount, currency = raw.get("amount"), raw.get("currency") or currency
        if set(raw) - {"amount", "currency"} or not isinstance(currency, str) or not CURRENCY.fullmatch(currency):
            raise Invalid(f"{d.name} is {{amount, currency}} with a three-letter currency", field)
    if isinstance(amount, bool) or not isinstance(amount, (int, float, str)):
        raise Invalid(f"{d.name} is an amount of money", field)
    try:
        value = Decimal(str(amount).replace(",", ".").replace(" ", ""))
    except InvalidOperation:
        raise Invalid(f"{d.name} is an amount of money like 1500.50", field) from None
    if not value.is_finite() or abs(value) >= MONEY_LIMIT or value != value.quantize(Decimal("0.01")):
        raise Invalid(f"{d.name} is an amount with at most two decimals (less than 10^15)", field)
    return {"amount": str(value.quantize(Decimal("0.01"))), "currency": currency}


async def _directory_value(session: AsyncSession, d: FieldDefinition, raw: Any, field: str) -> int:
    """The id of the directory's value, given as its id or as its exact text."""
    query = select(DirectoryValue).where(DirectoryValue.directory_id == d.directory_id)
    if isinstance(raw, int) and not isinstance(raw, bool):
        query = query.where(DirectoryValue.id == raw)
    elif isinstance(raw, str):
        query = query.where(DirectoryValue.value == raw)
    else:
        raise Invalid(f"{d.name} is a value of its directory", field)
    found = await session.scalar(query)
    if found is None or not found.active:
        raise Invalid(f"{d.name}: {str(raw)[:60]!r} is not in the directory", field)
    return found.id


# -- directories ------------------------------------------------------------------------------------

async def directories(session: AsyncSession) -> list[tuple[Directory, list[DirectoryValue]]]:
    dirs = list(await session.scalars(select(Directory).order_by(Directory.id)))
    values: dict[int, list[DirectoryValue]] = {}
    for v in await session.scalars(select(DirectoryValue).order_by(DirectoryValue.position, DirectoryValue.id)):
        values.setdefault(v.directory_id, []).append(v)
    return [(d, values.get(d.id, [])) for d in dirs]


async def add_directory(session: AsyncSession, name: str, label: str, label_ru: str | None,
                        values: Iterable[str] = ()) -> Directory:
    if not NAME.fullmatch(name):
        raise Invalid("a directory's name is lower-case latin letters, digits and _ (up to 60)", "name")
    if await session.scalar(select(Directory.id).where(Directory.name == name)) is not None:
        raise Conflict(f"the directory {name!r} already exists", "name")
    row = Directory(name=name, label=label, label_ru=label_ru)
    session.add(row)
    await session.flush()
    for value in values:
        await add_value(session, row.id, value)
    return row


async def change_directory(session: AsyncSession, directory_id: int, label: str | None,
                           label_ru: str | None) -> Directory:
    row = found(await session.get(Directory, directory_id), f"directory {directory_id} not found")
    if label is not None:
        row.label = label
    if label_ru is not None:
        row.label_ru = label_ru
    return row


async def add_value(session: AsyncSession, directory_id: int, value: str) -> DirectoryValue:
    if await session.get(Directory, directory_id) is None:
        raise NotFound(f"directory {directory_id} not found")
    text = " ".join(value.split())
    if not text:
        raise Invalid("a directory value is not empty", "value")
    if await session.scalar(select(DirectoryValue.id).where(DirectoryValue.directory_id == directory_id,
                                                            DirectoryValue.value == text)) is not None:
        raise Conflict(f"{text!r} is already in the directory", "value")
    last = await session.scalar(select(func.max(DirectoryValue.position))
                                .where(DirectoryValue.directory_id == directory_id))
    row = DirectoryValue(directory_id=directory_id, value=text, position=(last or 0) + 1, active=True)
    session.add(row)
    await session.flush()
    return row


async def change_value(session: AsyncSession, directory_id: int, value_id: int, value: str | None,
                       active: bool | None) -> DirectoryValue:
    row = await session.get(DirectoryValue, value_id)
    if row is None or row.directory_id != directory_id:
        raise NotFound(f"value {value_id} of directory {directory_id} not found")
    if value is not None:
        text = " ".join(value.split())
        if not text:
            raise Invalid("a directory value is not empty", "value")
        clash = await session.scalar(select(DirectoryValue.id).where(
            DirectoryValue.directory_id == directory_id, DirectoryValue.value == text, DirectoryValue.id != value_id))
        if clash is not None:
            raise Conflict(f"{text!r} is already in the directory", "value")
        row.value = text
    if active is not None:
        row.active = active
    return row
