"""Channel sections are typed when the settings load: bad values name the key, defaults, environment overrides."""
from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from channels.email.config import SmtpConfig
from channels.webform.config import DEFAULT_FORM
from gateway.settings import SettingsError, load_settings


def settings_from(tmp_path: Path, toml: str):  # type: ignore[no-untyped-def]
    config = tmp_path / "switchboard.toml"
    config.write_text(toml)
    return load_settings(config)


def test_unset_channels_are_off_and_the_default_form_exists(tmp_path: Path) -> None:
    settings = settings_from(tmp_path, "")
    assert (settings.smtp, settings.email, settings.telegram, settings.whatsapp, settings.viber,
            settings.ami, settings.agi, settings.imap) == (None, None, None, None, None, None, None, {})
    assert settings.forms == {"default": DEFAULT_FORM}


def test_sections_arrive_typed_with_their_defaults(tmp_path: Path) -> None:
    settings = settings_from(tmp_path, """
[smtp]
domains = ["Shop.Example"]
[imap.sales]
host = "imap.example"
username = "sales"
password = "p"
[telegram]
token = "1:x"
[whatsapp]
verify_token = "v"
app_secret = "s"
access_token = "t"
phone_number_id = 106540352242922
[ami]
host = "pbx"
username = "u"
secret = "s"
[agi]
[forms.landing]
burst = 3
""")
    assert isinstance(settings.smtp, SmtpConfig) and settings.smtp.host_port == ("127.0.0.1", 2525)
    assert settings.smtp.domains == ("shop.example",) and settings.smtp.accepts("anna@shop.example")
    box = settings.imap["sales"]
    assert (box.name, box.port, box.ssl, box.idle, box.poll_seconds) == ("sales", 993, True, True, 30.0)
    assert settings.telegram is not None and settings.telegram.mode == "polling"
    assert settings.whatsapp is not None and settings.whatsapp.phone_number_id == "106540352242922"
    assert settings.ami is not None and settings.ami.device_of("101") == "PJSIP/101"
    assert settings.agi is not None and (settings.agi.host, settings.agi.port) == ("127.0.0.1", 4573)
    assert set(settings.forms) == {"default", "landing"} and settings.forms["landing"].key == "landing"
    assert settings.forms["landing"].burst == 3
    assert "1:x" not in repr(settings.telegram) and "'p'" not in repr(box)    # secrets stay out of logs


@pytest.mark.parametrize(("toml", "message"), [
    ("[smtp]\nlisten = 'mail:smtp'\ndomains = ['a.example']\n", "smtp.listen: Value error, 'mail:smtp' is not HOST:PORT"),
    ("[smtp]\nlisten = '127.0.0.1:2525'\n", "smtp: Value error, give domains or addresses"),
    ("[smtp]\ndomains = ['a.example']\nmax_bytes = 'big'\n", "smtp.max_bytes: Input should be a valid integer"),
    ("[smtp]\naddresses = ['nobody']\n", "smtp.addresses: Value error, 'nobody' is not an e-mail address"),
    ("[imap.sales]\nhost = 'h'\nusername = 'u'\n", "imap.sales.password: required"),
    ("[imap.sales]\nhost = 'h'\nusername = 'u'\npassword = 'p'\nport = 0\n", "imap.sales.port"),
    ("[email]\nsmtp_host = 'relay'\nfrom_address = 'not an address'\n", "email.from_address"),
    ("[telegram]\ntoken = 't'\nmode = 'webhook'\n", "telegram.secret_token: Value error, required in webhook mode"),
    ("[whatsapp]\nverify_token = 'v'\n", "whatsapp.app_secret: required"),
    ("[viber]\nauth_token = 't'\nwebhook_url = 'example.com'\n", "viber.webhook_url: Value error, an http(s) URL expected"),
    ("[agi]\nport = 'x'\n", "agi.port"),
    ("[agi]\nbogus = 1\n", "agi.bogus: unknown setting"),
    ("[forms.landing]\nburst = 0\n", "forms.landing.burst"),
    ("[forms.'bad key']\n", "forms.bad key: Value error, a form key is"),
])
def test_bad_channel_values_name_the_key(tmp_path: Path, toml: str, message: str) -> None:
    with pytest.raises(SettingsError) as info:
        settings_from(tmp_path, toml)
    assert message in str(info.value)


def test_environment_overrides_reach_the_channel_sections(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_SMTP__LISTEN", "0.0.0.0:25")
    monkeypatch.setenv("SWITCHBOARD_SMTP__DOMAINS", "a.example, b.example")
    monkeypatch.setenv("SWITCHBOARD_SMTP__MAX_BYTES", "1000")
    monkeypatch.setenv("SWITCHBOARD_IMAP__SALES__IDLE", "false")
    monkeypatch.setenv("SWITCHBOARD_TELEGRAM__TOKEN", "1:from-env")
    monkeypatch.setenv("SWITCHBOARD_FORMS__LANDING__ALLOWED_ORIGINS", '["https://shop.example"]')
    settings = settings_from(tmp_path, "[smtp]\nlisten = '127.0.0.1:2525'\ndomains = ['file.example']\n"
                                       "[imap.sales]\nhost = 'h'\nusername = 'u'\npassword = 'p'\n")
    assert settings.smtp is not None and settings.smtp.host_port == ("0.0.0.0", 25)
    assert settings.smtp.domains == ("a.example", "b.example") and settings.smtp.max_bytes == 1000
    assert settings.imap["sales"].idle is False
    assert settings.telegram is not None and settings.telegram.token == "1:from-env"
    assert settings.forms["landing"].allowed_origins == ("https://shop.example",)


def test_a_bad_environment_value_names_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_SMTP__MAX_BYTES", "lots")
    with pytest.raises(SettingsError, match="smtp.max_bytes"):
        settings_from(tmp_path, "[smtp]\ndomains = ['a.example']\n")


def test_command_line_overrides_keep_the_channel_sections(tmp_path: Path) -> None:
    config = tmp_path / "switchboard.toml"
    config.write_text("[forms.landing]\nfield_map = {tel_1 = 'phone'}\n[smtp]\ndomains = ['a.example']\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # a serializer warning would land in serve's log
        settings = load_settings(config, http__port=9000)
    assert settings.http.port == 9000 and settings.forms["landing"].canonical("TEL_1") == "phone"
    assert settings.smtp is not None and settings.smtp.domains == ("a.example",)
