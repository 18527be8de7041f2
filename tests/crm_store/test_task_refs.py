"""Task ids are made and read in one place: what they encode comes back typed."""
from __future__ import annotations

import pytest

from crm_store.task_refs import LeadTask, PhoneTask, is_phone_task, lead_of_task, parse_task_id


@pytest.mark.parametrize("ref", [LeadTask(7, 70), PhoneTask("1700000000.12", 3), PhoneTask("a:b", 4)])
def test_a_reference_survives_its_string_form(ref):
    assert parse_task_id(ref.encode()) == ref


def test_only_lead_tasks_name_a_lead_and_only_calls_are_phone_tasks():
    assert lead_of_task("lead:7:70") == 7 and lead_of_task(PhoneTask("c", 3).encode()) is None
    assert is_phone_task("call:c:3") and not is_phone_task("lead:7:70")


@pytest.mark.parametrize("raw", ["", "lead:", "lead:x:1", "lead:7", "call:c", "call::3", "call:c:x", "task-1"])
def test_ids_this_code_never_made_are_not_guessed(raw):
    assert parse_task_id(raw) is None
