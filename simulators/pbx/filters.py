"""AMI event filters per connection, as Asterisk 22 applies them (the `Filter` action, manager.conf `eventfilter`).

Two syntaxes, both kept by Asterisk 22: the legacy one, a regular expression searched in the whole event
(`!` before it excludes), and the advanced one (`MatchCriteria: action(include|exclude),name(Event),
header(Field),method(...)`), where `name` is matched exactly and the expression, if any, only against the
header's value (or the whole event without `header`). With no filter every event goes out; with includes
only, an event must match one; with excludes only, it must match none; with both, it must match an include
and no exclude. Only events go through filters: the events that answer a list action (`CoreShowChannel`,
`QueueEntry`) are part of that action's reply and are never filtered.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_CRITERION = re.compile(r"(action|name|header|method)\(([^()]*)\)|(regex|exact|starts_with|startsWith|ends_with"
                        r"|endsWith|contains|none)")
METHODS = {"startsWith": "starts_with", "endsWith": "ends_with"}


class FilterRefused(ValueError):
    """A filter Asterisk would answer with `Response: Error` (the message says why)."""


@dataclass(frozen=True, slots=True)
class EventFilter:
    include: bool
    name: str | None = None
    header: str | None = None
    method: str = "regex"
    expression: str = ""

    @classmethod
    def parse(cls, criteria: str, expression: str) -> EventFilter:
        """From a `Filter` action's MatchCriteria (may be empty: the legacy syntax) and Filter fields."""
        criteria = criteria.strip()
        if not criteria:
            if not expression:
                raise FilterRefused("Filter Add requires a Filter")
            include = not expression.startswith("!")
            expression = expression if include else expression[1:]
            _compile(expression)
            return cls(include, expression=expression)
        fields: dict[str, str] = {}
        for part in (p.strip() for p in criteria.split(",")):
            found = _CRITERION.fullmatch(part)
            if found is None:
                raise FilterRefused(f"Invalid match criteria: {part}")
            key, value = (found.group(1), found.group(2)) if found.group(1) else ("method", found.group(3))
            if key in fields:
                raise FilterRefused(f"Duplicate match criteria: {key}")
            fields[key] = value
        action = fields.get("action", "include")
        if action not in ("include", "exclude"):
            raise FilterRefused(f"Invalid action: {action}")
        method = METHODS.get(fields.get("method", ""), fields.get("method", "regex" if expression else "none"))
        if method == "regex":
            _compile(expression)
        return cls(action == "include", fields.get("name"), fields.get("header"), method, expression)

    def matches(self, event: Mapping[str, str], payload: str) -> bool:
        if self.name is not None and event.get("Event") != self.name:
            return False
        if self.header is not None:
            if self.header not in event:
                return False
            payload = event[self.header]
        if self.method == "none" or (not self.expression and self.method != "exact"):
            return True
        if self.method == "regex":
            return _compile(self.expression).search(payload) is not None
        if self.method == "exact":
            return payload == self.expression
        if self.method == "starts_with":
            return payload.startswith(self.expression)
        if self.method == "ends_with":
            return payload.endswith(self.expression)
        return self.expression in payload


def passes(filters: list[EventFilter], event: Mapping[str, str], payload: str) -> bool:
    """Whether a connection with `filters` receives the event (`payload`: the event as written, for regexes)."""
    if not filters:
        return True
    includes = [f for f in filters if f.include]
    if includes and not any(f.matches(event, payload) for f in includes):
        return False
    return not any(f.matches(event, payload) for f in filters if not f.include)


_compiled: dict[str, re.Pattern[str]] = {}
# Asterisk compiles filters as POSIX extended regexes: their bracket classes, in Python's spelling.
_POSIX_CLASSES = {"[:space:]": r"\s", "[:digit:]": r"\d", "[:alpha:]": "a-zA-Z", "[:alnum:]": "a-zA-Z0-9",
                  "[:upper:]": "A-Z", "[:lower:]": "a-z"}


def _compile(expression: str) -> re.Pattern[str]:
    pattern = _compiled.get(expression)
    if pattern is None:
        try:
            python = expression
            for posix, spelled in _POSIX_CLASSES.items():
                python = python.replace(posix, spelled)
            pattern = _compiled[expression] = re.compile(python)
        except re.error as exc:
            raise FilterRefused(f"Invalid filter regex: {exc}") from None
    return pattern
