"""The demo at a pace one operator can work, with known clients coming back, and polling kept off the screen."""
from __future__ import annotations

import logging
import random

import pytest

from crm_store.types import Role
from gateway import logs
from gateway.cli import parser
from gateway.demo import Crowd, QuietPolls, next_gap, stream
from support.gateway_app import Api


class _Enough(Exception):
    pass


async def test_contacts_come_one_at_a_time_at_the_pace_asked_and_some_callers_come_back() -> None:
    crowd = Crowd(random.Random(19))
    gaps: list[float] = []
    came: list[tuple[str, tuple[str, str]]] = []

    async def sleep(seconds: float) -> None:       # the demo's clock: the test counts the gaps, never waits
        if len(gaps) == 200:
            raise _Enough
        gaps.append(seconds)

    def channel(name: str):  # type: ignore[no-untyped-def]
        async def contact(person: tuple[str, str]) -> None:
            came.append((name, person))
        return contact

    with pytest.raises(_Enough):
        await stream({name: channel(name) for name in ("form", "email", "telegram", "phone")}, crowd, 30.0, sleep)
    assert len(came) == 200 and all(20.0 <= gap <= 40.0 for gap in gaps)
    assert 27 <= sum(gaps) / len(gaps) <= 33
    assert {name for name, _ in came} == {"form", "email", "telegram", "phone"}
    people = [person for _, person in came]
    returning = len(people) - len(set(people))
    assert 0.2 * len(people) <= returning <= 0.5 * len(people)       # about a third are known clients


def test_the_pace_and_language_are_options_with_sane_bounds(capsys: pytest.CaptureFixture[str]) -> None:
    args = parser().parse_args(["demo", "--pace", "12", "--lang", "ru"])
    assert (args.pace, args.lang) == (12.0, "ru")
    defaults = parser().parse_args(["demo"])
    assert (defaults.pace, defaults.lang) == (30.0, "en")      # the README is English
    assert all(10 <= next_gap(15, random.Random(n)) <= 20 for n in range(50))
    for bad in ("0", "fast", "99999"):
        with pytest.raises(SystemExit):
            parser().parse_args(["demo", "--pace", bad])
        assert "--pace" in capsys.readouterr().err


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)     # a log filter: one engine is enough
async def test_polling_stays_out_of_the_output_but_changes_and_failures_do_not(
        api: Api, caplog: pytest.LogCaptureFixture) -> None:
    quiet = QuietPolls()
    logs.access_log.addFilter(quiet)
    try:
        with caplog.at_level(logging.INFO, logger=logs.access_log.name):
            await api.client.get("/api/v1/leads/counts")            # 401: a failure is still told
            await api.add_user("olga", Role.OPERATOR)
            headers = await api.login("olga")
            for _ in range(3):
                assert (await api.client.get("/api/v1/leads/counts", headers=headers)).status == 200
    finally:
        logs.access_log.removeFilter(quiet)
    lines = [r.getMessage() for r in caplog.records if r.name == logs.access_log.name]
    assert "GET /api/v1/leads/counts 401" in lines and "POST /api/v1/auth/login 200" in lines
    assert "GET /api/v1/leads/counts 200" not in lines
