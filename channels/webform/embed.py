"""The embeddable form: an iframe page and a script a website pastes, both rendered from one static script."""
from __future__ import annotations

import html
import json
from importlib.resources import files
from string import Template

from channels.webform.config import FormConfig

_STATIC = files("channels.webform") / "static"
_CONFIG_SLOT = "/*__SWITCHBOARD_FORM__*/null"
_WORDS_SLOT = "/*__SWITCHBOARD_WORDS__*/null"
_DEFAULTS = FormConfig()


def _static(name: str) -> str:
    return (_STATIC / name).read_text(encoding="utf-8")


_SCRIPT = _static("embed.js")
_PAGE = Template(_static("embed.html"))
# The form's own words, one data file per language (static/words.<lang>.json): a new language is a file.
WORDS: dict[str, dict[str, str]] = {
    item.name.removeprefix("words.").removesuffix(".json"): json.loads(item.read_text(encoding="utf-8"))
    for item in _STATIC.iterdir() if item.name.startswith("words.") and item.name.endswith(".json")
}


def script_config(form: FormConfig) -> dict[str, object]:
    """What the browser needs to know about a form; never the secret or the limits we enforce anyway."""
    return {
        "key": form.key,
        # Left at their defaults, the title and the thanks are said in the site's language (the dictionary's).
        "title": None if form.title == _DEFAULTS.title else form.title,
        "successMessage": None if form.success_message == _DEFAULTS.success_message else form.success_message,
        "honeypot": form.honeypot,
        "requireAny": list(form.require_any),
        "required": list(form.required),
        "maxMessageChars": form.max_message_chars,
        "maxFieldChars": form.max_field_chars,
    }


def _script_json(value: object) -> str:
    data = json.dumps(value, ensure_ascii=True)
    # "</script>" in a title must not end the script; "<", ">" and "&" become \u escapes.
    return data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_script(form: FormConfig) -> str:
    """`embed.js` with the form's settings and words in place; safe inside `<script>` whatever the title says."""
    return _SCRIPT.replace(_CONFIG_SLOT, _script_json(script_config(form)), 1).replace(
        _WORDS_SLOT, _script_json(WORDS), 1)


def render_page(form: FormConfig, lang: str = "en") -> str:
    """A whole HTML page holding only the form, for sites that prefer an `<iframe>`, in `lang` (a key of WORDS)."""
    words = WORDS.get(lang, WORDS["en"])
    return _PAGE.substitute(
        lang=html.escape(lang),
        title=html.escape(form.title if form.title != _DEFAULTS.title else words["title"]),
        script=html.escape(f"/forms/{form.key}/embed.js"),
    )


def frame_ancestors(form: FormConfig) -> str:
    """The CSP `frame-ancestors` value: only the sites allowed to post may frame the form."""
    if "*" in form.allowed_origins:
        return "*"
    return " ".join(["'self'", *form.allowed_origins])
