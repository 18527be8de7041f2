"""The console's dictionaries: every language has every key, and every key the screens use exists."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import operator_ui

STATIC = operator_ui.static_dir()
# t('key'), tt('key'), t("key", {...}) in the modules; data-i18n="key" and its -placeholder/-title/-label forms.
JS_KEY = re.compile(r"""\btt?\(\s*['"]([\w.]+)['"]""")
HTML_KEY = re.compile(r"""\bdata-(?:i18n|tt)(?:-[a-z]+)?="([\w.]+)\"""")
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def dictionary(lang: str) -> dict[str, str]:
    return json.loads((STATIC / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))


def used_keys() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in [*STATIC.glob("js/*.js"), *STATIC.glob("*.html")]:
        pattern = JS_KEY if path.suffix == ".js" else HTML_KEY
        for key in pattern.findall(path.read_text(encoding="utf-8")):
            found.setdefault(key, set()).add(path.name)
    return found


def test_every_offered_language_has_the_same_keys_and_placeholders() -> None:
    offered = operator_ui.languages()
    assert set(offered) >= {"en", "ru"}
    english = dictionary("en")
    for lang in offered:
        words = dictionary(lang)
        assert set(words) == set(english), (lang, sorted(set(words) ^ set(english)))
        for key, text in words.items():
            assert isinstance(text, str) and text.strip(), (lang, key)
            assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(english[key])), (lang, key)


def test_russian_is_russian_not_copied_english() -> None:
    russian, english = dictionary("ru"), dictionary("en")
    # A word may stay the same in both (a brand, "SLA", "ID"), but hardly any: a copied file would fail here.
    same = [key for key in english if russian[key] == english[key]]
    assert len(same) <= len(english) // 20, same


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_every_key_a_screen_uses_is_in_the_dictionary(lang: str) -> None:
    words = dictionary(lang)
    used = used_keys()
    assert len(used) > 100          # the scan finds the screens' words at all
    missing = {key: sorted(files) for key, files in used.items() if key not in words}
    assert not missing, missing
