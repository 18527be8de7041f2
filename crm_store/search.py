"""Search that finds people: one normalised text per lead, indexed for substrings on both engines.

SQLite's lower() folds ASCII only and neither engine ignores accents the same way, so the text is
normalised here, in Python, at write time (casefold, accents stripped, ё = е) and queries are
normalised the same way. `leads.search_text` holds the client's name, the names of their companies
(and of the lead's own), every identity (phones also as bare digits), the subject, the notes and the
opening message. Companies have a search text of their own (crm_store.companies), searched by LIKE:
there are far fewer of them. The substring index is FTS5 with
the trigram tokenizer on SQLite (rowids only, no positions: migration 0007) and a pg_trgm GIN index on
PostgreSQL, both made by migration 0003 (not by the models: `SCHEMA_EXTRAS` names them so the schema
comparison leaves them alone).
"""
from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement, Select, and_, bindparam, column, func, literal_column, or_, select, table, union, update,
)
from sqlalchemy.orm import Session

from crm_store import search_terms
from crm_store.models import Company, Contact, ContactCompany, Identity, Interaction, Lead

SQLITE_FTS = "leads_search"     # the FTS5 table over leads.search_text (plus its shadow tables and triggers)
PG_TRGM_INDEX = "ix_leads_search_text_trgm"
SCHEMA_EXTRAS = (SQLITE_FTS, PG_TRGM_INDEX)
TRIGRAM = 3                     # shorter needles cannot use a trigram index: they scan
OPENING_TEXT = 500              # how much of the first message is searchable
WINDOW = 100                    # a page is ranked from the newest matches, counted in whole windows of this many
DOC_LIMIT = 8000


class _WithoutMarks(dict[int, int | None]):
    """`str.translate`'s table dropping combining marks, filled in as characters are first seen.

    A generator over every character was a tenth of the intake writer's CPU (each new lead's text is
    normalised in the batch); translate looks a seen character up in C.
    """

    LIMIT = 100_000     # distinct characters kept; any text still translates right past it

    def __missing__(self, code: int) -> int | None:
        kept = None if unicodedata.combining(chr(code)) else code
        if len(self) < self.LIMIT:
            self[code] = kept
        return kept


_WITHOUT_MARKS = _WithoutMarks()


def normalize(value: str) -> str:
    """Casefolded, accents stripped (é = e, ё = е, й = и), whitespace collapsed: the form both sides compare."""
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    return " ".join(decomposed.translate(_WITHOUT_MARKS).split())


def digits_of(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def include_in_schema_compare(name: str | None, kind: str, parent: object) -> bool:
    """Alembic `include_name`: the search index objects live in the migration, not in the models."""
    return not (name or "").startswith(SCHEMA_EXTRAS)


def document(name: str | None, identities: Iterable[tuple[str, str]], subject: str | None, notes: str | None,
             opening: str | None) -> str:
    """The searchable text of one lead."""
    parts = [name or ""]
    for kind, value in identities:
        parts.append(value)
        if kind == "phone":
            parts.append(digits_of(value))
    parts += [subject or "", notes or "", (opening or "")[:OPENING_TEXT]]
    return normalize(" | ".join(p for p in parts if p))[:DOC_LIMIT]


def lead_name(contact_name: str | None, companies: Iterable[str], lead_company: str | None = None) -> str:
    """The name part of a lead's text: the client's name, then their companies' and the lead's own, each once."""
    return " | ".join(n for n in (contact_name, *dict.fromkeys([*companies, lead_company or ""])) if n)


# Built once: the intake asks it in every batch with a returning client (a new statement costs its cache key again).
_COMPANY_NAMES = (
    select(ContactCompany.contact_id, Company.name).join(Company, Company.id == ContactCompany.company_id)
    .where(ContactCompany.contact_id.in_(bindparam("contact_ids", expanding=True)), Company.deleted_at.is_(None))
    .order_by(Company.id)
)


def company_names(session: Session, contact_ids: Iterable[int]) -> dict[int, list[str]]:
    """Each contact's companies' names (not deleted), in the order their texts list them."""
    ids = set(contact_ids)
    names: dict[int, list[str]] = {}
    if ids:
        for contact_id, company in session.execute(_COMPANY_NAMES, {"contact_ids": list(ids)}):
            names.setdefault(contact_id, []).append(company)
    return names


def refresh(session: Session, contact_ids: Iterable[int | None] = (), lead_ids: Iterable[int | None] = (), *,
            companies: bool = True) -> None:
    """Recompute the search text of every lead of these contacts, and of these leads.

    `companies` False: a migration older than the companies tables (0004) backfilling its own column."""
    contacts = {c for c in contact_ids if c is not None}
    leads = {i for i in lead_ids if i is not None}
    if not contacts and not leads:
        return
    columns = [Lead.id, Lead.contact_id, Lead.subject, Lead.notes, Lead.search_text]
    rows = session.execute(select(*columns, *([Lead.company_id] if companies else [])).where(
        or_(Lead.contact_id.in_(contacts), Lead.id.in_(leads)))).all()
    if not rows:
        return
    people = {row.contact_id for row in rows}
    names = dict(session.execute(select(Contact.id, Contact.display_name).where(Contact.id.in_(people))).all())
    identities: dict[int, list[tuple[str, str]]] = {}
    for contact_id, kind, value in session.execute(
            select(Identity.contact_id, Identity.kind, Identity.value).where(Identity.contact_id.in_(people))
            .order_by(Identity.id)):
        identities.setdefault(contact_id, []).append((kind, value))
    orgs_of = company_names(session, people) if companies else {}
    own = {row.company_id for row in rows if row.company_id is not None} if companies else set()
    lead_company = dict(session.execute(select(Company.id, Company.name).where(
        Company.id.in_(own), Company.deleted_at.is_(None))).all()) if own else {}
    ids = [row.id for row in rows]
    first = select(func.min(Interaction.id)).where(Interaction.lead_id.in_(ids)).group_by(Interaction.lead_id)
    opening = dict(session.execute(select(Interaction.lead_id, Interaction.text).where(
        Interaction.id.in_(first.scalar_subquery()))).all())
    changed = []
    for row in rows:
        name = lead_name(names.get(row.contact_id), orgs_of.get(row.contact_id, ()),
                         lead_company.get(row.company_id, "") if companies else "")
        doc = document(name, identities.get(row.contact_id, ()), row.subject, row.notes, opening.get(row.id))
        if doc != row.search_text:
            changed.append({"lead_id": row.id, "doc": doc})
    if changed:
        session.connection().execute(
            update(Lead.__table__).where(Lead.__table__.c.id == bindparam("lead_id"))
            .values(search_text=bindparam("doc")), changed)
        # Leads already in this session would otherwise show their old text.
        for lead in session.identity_map.values():
            if isinstance(lead, Lead) and lead.id in {c["lead_id"] for c in changed}:
                session.expire(lead, ["search_text"])


@dataclass(frozen=True, slots=True)
class Query:
    """What a search box said, read every way it can mean: text, digits of a phone, an exact identity."""

    text: str
    digits: str
    exact: tuple[tuple[str, str], ...]   # (kind, value) identities the query is exactly

    @classmethod
    def of(cls, raw: str, phone: str | None = None, email: str | None = None) -> Query:
        exact = tuple(pair for pair in (("phone", phone), ("email", email)) if pair[1])
        stripped = raw.strip()
        looks_like_phone = stripped and all(ch.isdigit() or ch in "+-() ." for ch in stripped)
        return cls(normalize(raw), digits_of(raw) if looks_like_phone else "", exact)  # type: ignore[arg-type]


def like_pattern(needle: str) -> str:
    """A LIKE pattern (escape "\\") for text containing `needle`."""
    return "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def candidate_count(offset: int, limit: int) -> int:
    """How many of the newest matching leads a page is ranked from: the page rounded up to whole WINDOWs.

    The cost of a search follows this, not how many leads match; neighbouring pages (0-50, 50-100) are
    ranked from the same candidates, so they neither repeat nor skip a lead.
    """
    return -(-(offset + limit) // WINDOW) * WINDOW


def _substring_ids(dialect: str, needle: str, where: Sequence[ColumnElement[bool]], count: int,
                   name: str) -> Select[tuple[int]]:
    """Ids of the newest `count` leads passing `where` whose search text contains `needle`.

    Both walk ids backwards and stop at `count`: SQLite from the FTS5 trigram index (a piece of the needle,
    crm_store.search_terms; the whole needle is checked on the row), PostgreSQL by the trigram GIN index.
    `where` (the list's own filters) is applied before the cut, so an operator's candidates are leads they see.
    """
    if dialect == "sqlite" and len(needle) >= TRIGRAM:
        index = table(SQLITE_FTS, column("rowid"))
        asked = bindparam(f"{name}_fts", search_terms.fts_query(needle))
        found = select(Lead.id).select_from(index).join(Lead, Lead.id == index.c.rowid).where(
            literal_column(SQLITE_FTS).op("MATCH")(asked),
            func.instr(Lead.search_text, bindparam(f"{name}_needle", needle)) > 0, *where,
        ).order_by(index.c.rowid.desc())
    else:
        # OFFSET 0 fences the match from the ORDER BY: PostgreSQL would otherwise walk the primary key
        # backwards filtering every row, which for a rare needle is a scan of the whole table.
        pattern = bindparam(f"{name}_like", like_pattern(needle))
        matched = select(Lead.id).where(Lead.search_text.like(pattern, escape="\\"), *where).offset(0).subquery()
        found = select(matched.c.id).order_by(matched.c.id.desc())
    newest = found.limit(count).subquery()
    return select(newest.c.id)


def matching(dialect: str, query: Query, exact_contacts: list[int], where: Sequence[ColumnElement[bool]] = (),
             count: int = WINDOW) -> ColumnElement[bool]:
    """Leads the query finds: by text, by phone digits, or the contact it names exactly.

    Text and digits are ranked from the newest `count` leads passing `where` that contain them.
    """
    parts: list[Select[tuple[int]]] = []
    if query.text:
        parts.append(_substring_ids(dialect, query.text, where, count, "q_text"))
    if query.digits and query.digits != query.text and len(query.digits) >= 4:
        parts.append(_substring_ids(dialect, query.digits, where, count, "q_digits"))
    if exact_contacts:
        parts.append(select(Lead.id).where(Lead.contact_id.in_(exact_contacts)))
    if not parts:
        return and_(Lead.id.is_(None), Lead.id.is_not(None))
    return Lead.id.in_(union(*parts) if len(parts) > 1 else parts[0])


def exact_contacts_stmt(query: Query) -> Select[tuple[int]] | None:
    if not query.exact:
        return None
    return select(Identity.contact_id).where(or_(*(and_(Identity.kind == k, Identity.value == v)
                                                   for k, v in query.exact)))
