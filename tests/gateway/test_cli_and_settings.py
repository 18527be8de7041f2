"""The `switchboard` command and settings: TOML, environment overrides, clear errors."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.settings import SettingsError, load_settings


def test_toml_file_with_environment_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "switchboard.toml"
    config.write_text('[http]\nport = 9000\nhost = "127.0.0.1"\n[phone]\nregion = "am"\n'
                      '[permissions]\ndelete = ["admin"]\n')
    monkeypatch.setenv("SWITCHBOARD_HTTP__PORT", "9100")
    settings = load_settings(config)
    assert settings.http.port == 9100 and settings.http.host == "127.0.0.1"
    assert settings.phone.region == "AM"
    assert [r.value for r in settings.permissions.delete] == ["admin"]


def test_the_switch_interval_of_serve_is_a_setting(tmp_path: Path) -> None:
    config = tmp_path / "switchboard.toml"
    config.write_text("[http]\nswitch_interval_ms = 0.5\n")
    assert load_settings(config).http.switch_interval_ms == 0.5
    config.write_text("")
    assert load_settings(config).http.switch_interval_ms == 1.0      # measured: bench/README.md, screen pop


@pytest.mark.parametrize(("toml", "env", "message"), [
    ("[http]\nport = 'x'\n", {}, "http.port"),
    ("[http]\nswitch_interval_ms = 0\n", {}, "http.switch_interval_ms"),
    ("[phone]\nregion = 'XX'\n", {}, "unknown phone region"),
    ("[htp]\nport = 1\n", {}, "htp"),
    ("not toml = = 1", {}, "not valid TOML"),
    ("", {"SWITCHBOARD_HTTPP__PORT": "1"}, "SWITCHBOARD_HTTPP__PORT"),
    ("", {"SWITCHBOARD_PERMISSIONS__DELETE": '["god"]'}, "permissions.delete"),
])
def test_bad_settings_name_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, toml: str,
                                   env: dict[str, str], message: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(toml)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SettingsError, match=message):
        load_settings(config)


def test_missing_config_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(tmp_path / "nope.toml"), "migrate"]) == 2
    assert "cannot read config file" in capsys.readouterr().err


@pytest.mark.parametrize(("toml", "message"), [
    ("[ami]\nhost = '127.0.0.1'\nusername = 'u'\nsecret = 's'\nbogus = 1\n", "ami.bogus: unknown setting"),
    ("[ami]\nhost = '127.0.0.1'\n", "ami.username: required"),
    ("[ami]\nhost = 'h'\nusername = 'u'\nsecret = 's'\nping_timeout = 'soon'\n", "ami.ping_timeout"),
    ("[ami]\nhost = 'h'\nusername = 'u'\nsecret = 's'\ndevice = 'PJSIP/101'\n", "ami.device"),
    ("[agi]\nport = 99999\n", "agi.port"),
])
def test_bad_voice_tables_stop_serve_naming_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    toml: str, message: str) -> None:
    config = tmp_path / "voice.toml"
    config.write_text(toml)
    assert main(["--config", str(config), "serve"]) == 2
    assert message in capsys.readouterr().err


def test_migrate_and_user_add_from_the_command_line(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    env = {"SWITCHBOARD_DATABASE__URL": f"sqlite+aiosqlite:///{db}", "PATH": "/usr/bin:/bin"}
    command = [sys.executable, "-m", "gateway"]
    run = subprocess.run([*command, "migrate"], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    add = subprocess.run(
        [*command, "user", "add", "olga", "--role", "manager", "--password-stdin", "--extension", "101",
         "--skills", "sales:3,en", "--capacity", "voice=1,chat=2", "--team", "sales"],
        input="a long password\n", env=env, capture_output=True, text=True, timeout=60)
    assert add.returncode == 0, add.stderr
    again = subprocess.run([*command, "user", "add", "olga", "--role", "admin", "--password-stdin"],
                           input="a long password\n", env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 1 and "already taken" in again.stderr
    with sqlite3.connect(db) as connection:
        row = connection.execute("SELECT role, extension, skills, capacity, password_hash FROM users").fetchone()
    assert row[:2] == ("manager", "101")
    assert (json.loads(row[2]), json.loads(row[3])) == ({"sales": 3, "en": 1}, {"voice": 1, "chat": 2})
    assert row[4].startswith("$argon2")


def test_serve_starts_on_the_embedded_defaults(tmp_path: Path) -> None:
    """What the README's first command runs: SQLite in the working directory, migrated on start."""
    import socket
    import time
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--port", str(port)], cwd=tmp_path,
                              env={"PATH": "/usr/bin:/bin"}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 300       # generous: a start on a busy machine
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=30) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "serve did not come up"
                time.sleep(0.1)
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0].decode()
    assert (tmp_path / "switchboard.db").exists()
    assert f"http://127.0.0.1:{port}" in output


def test_user_list_passwd_and_disable_from_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    import io

    from argon2 import PasswordHasher

    db = tmp_path / "cli.db"
    monkeypatch.setenv("SWITCHBOARD_DATABASE__URL", f"sqlite+aiosqlite:///{db}")
    for name, role in (("olga", "manager"), ("boss", "supervisor")):
        monkeypatch.setattr(sys, "stdin", io.StringIO("a long password\n"))
        assert main(["user", "add", name, "--role", role, "--password-stdin", "--team", "sales"]) == 0
    with sqlite3.connect(db) as connection:
        connection.execute("INSERT INTO api_sessions VALUES ('x', 1, '2026-01-01 00:00:00', '2099-01-01 00:00:00')")
    capsys.readouterr()
    assert main(["user", "list"]) == 0
    listed = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert listed[0][:3] == ["id", "username", "role"]
    assert [row[1:4] + row[5:] for row in listed[1:]] == [["olga", "manager", "sales", "yes"],
                                                          ["boss", "supervisor", "sales", "yes"]]

    monkeypatch.setattr(sys, "stdin", io.StringIO("another long one\n"))
    assert main(["user", "passwd", "olga", "--password-stdin"]) == 0
    with sqlite3.connect(db) as connection:
        stored = connection.execute("SELECT password_hash FROM users WHERE username = 'olga'").fetchone()[0]
        assert connection.execute("SELECT count(*) FROM api_sessions").fetchone()[0] == 0
    assert PasswordHasher().verify(stored, "another long one")
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert main(["user", "passwd", "olga", "--password-stdin"]) == 1
    assert "at least 8" in capsys.readouterr().err

    assert main(["user", "disable", "boss"]) == 0
    assert main(["user", "disable", "nobody"]) == 1
    assert "no user named 'nobody'" in capsys.readouterr().err
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT username, active FROM users ORDER BY id").fetchall() == [("olga", 1),
                                                                                                  ("boss", 0)]
        actions = [r[0] for r in connection.execute("SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["user.passwd", "user.disable"]
