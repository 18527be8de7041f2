"""The channel section base: the region set at build, lists from the environment, errors with the key."""
from __future__ import annotations

import pytest

from channels.asterisk.config import AmiConfig
from channels.section import read_section


def test_the_region_is_the_services_not_the_sections() -> None:
    config = AmiConfig(host="pbx", username="u", secret="s")
    assert config.region == "RU" and config.in_region("AM").region == "AM"
    assert config.region == "RU", "in_region makes a copy: settings stay as loaded"
    with pytest.raises(ValueError, match="ami.region: unknown setting"):
        read_section(AmiConfig, {"host": "pbx", "username": "u", "secret": "s", "region": "AM"}, "ami")


@pytest.mark.parametrize(("table", "message"), [
    ({"host": "pbx", "username": " ", "secret": "s"}, "ami.username"),
    ({"host": "pbx", "username": "u", "secret": "s", "reconnect_min": 5, "reconnect_max": 1},
     "ami: Value error, reconnect_max must not be below reconnect_min"),
    ({"host": "pbx", "username": "u", "secret": "s", "ping_timeout": 0}, "ami.ping_timeout: Input should be greater than 0"),
    ({"username": "u"}, "ami.host: required; ami.secret: required"),
])
def test_every_problem_is_named(table: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as info:
        read_section(AmiConfig, table, "ami")
    assert message in str(info.value)
