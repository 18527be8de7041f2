"""Where the history quoted below a reply starts, in the shapes real mail clients write it."""
from __future__ import annotations

import re

# Gmail / Apple "On … wrote:", French, German, Russian clients ("… пишет:"), Yandex "23.11.2026, 10:00, … <a@b>:".
ATTRIBUTION = re.compile(
    r"^(On\s.{0,300}\bwrote\s?:|Le\s.{0,300}a écrit\s?:|Am\s.{0,300}schrieb.{0,100}:"
    r"|.{0,300}\b(пишет|написал\(а\)|написала|написал)\s?:"
    r"|\d{1,2}\.\d{1,2}\.\d{2,4}.{0,250}>\s?:)\s*$",
    re.IGNORECASE)
ATTRIBUTION_START = re.compile(r"^(On|Le|Am|В|\d{1,2}\.\d{1,2}\.\d{2,4})\b", re.IGNORECASE)
SEPARATOR = re.compile(r"^-{2,}\s*(Original Message|Исходное сообщение|Message d'origine|Ursprüngliche Nachricht)"
                       r"\s*-{2,}\s*$", re.IGNORECASE)
HEADER_FROM = re.compile(r"^\**(From|От|De|Von)\s?:\**\s*\S", re.IGNORECASE)
HEADER_NEXT = re.compile(r"^\**(Sent|Date|To|Subject|Отправлено|Дата|Кому|Тема|Envoyé|Gesendet|An|Betreff)\s?:",
                         re.IGNORECASE)
RULE = re.compile(r"^_{10,}\s*$")


def strip_quoted(text: str) -> str:
    """The new part of a reply, without the history quoted below it (the whole text if all is quoted)."""
    lines = text.split("\n")
    for i in range(1, len(lines)):
        start = _history_starts(lines, i)
        if start is not None:
            kept = "\n".join(lines[:start]).rstrip()
            # Nothing new above the history (the whole mail is a quote): keep it all.
            new = [n for n in lines[:start] if n.strip() and not n.lstrip().startswith(">")]
            return kept if new else text
    return text


def _history_starts(lines: list[str], i: int) -> int | None:
    line = lines[i].strip()
    following = lines[i + 1].strip() if i + 1 < len(lines) else ""
    if ATTRIBUTION.match(line) or SEPARATOR.match(line):
        return i
    if ATTRIBUTION_START.match(line) and following and ATTRIBUTION.match(f"{line} {following}"):
        return i        # the attribution line wrapped by the client
    if HEADER_FROM.match(line) and any(HEADER_NEXT.match(n.strip()) for n in lines[i + 1:i + 5]):
        # Outlook's header block, often under a rule of underscores.
        return i - 1 if i > 1 and RULE.match(lines[i - 1].strip()) else i
    rest = [n for n in lines[i:] if n.strip()]
    if line.startswith(">") and all(n.lstrip().startswith(">") for n in rest):
        return i
    return None
