"""The embeddable form: an iframe page and a script a website pastes, both rendered from one static script."""
from __future__ import annotations

import html
import json
from importlib.resources import files
from string import Template

from channels.webform.config import FormConfig

_STATIC = files("channels.webform") / "static"
_CONFIG_SLOT = "/*__SWITCHBOARD_FORM__*/null"


def _static(name: str) -> str:
    return (_STATIC / name).read_text(encoding="utf-8")


_SCRIPT = _static("embed.js")
_PAGE = Template(_static("embed.html"))


def script_config(form: FormConfig) -> dict[str, object]:
    """What the browser needs to know about a form; never the secret or the limits we enforce anyway."""
    return {
        "key": form.key,
        "title": form.title,
        "successMessage": form.success_message,
        "honeypot": form.honeypot,
        "requireAny": list(form.require_any),
        "required": list(form.required),
        "maxMessageChars": form.max_message_chars,
        "maxFieldChars": form.max_field_chars,
    }


def render_script(form: FormConfig) -> str:
    """`embed.js` with the form's settings in place; safe inside `<script>` whatever the title says."""
    data = json.dumps(script_config(form), ensure_ascii=True)
    # "</script>" in a title must not end the script; "<", ">" and "&" become \u escapes.
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return _SCRIPT.replace(_CONFIG_SLOT, data, 1)


def render_page(form: FormConfig) -> str:
    """A whole HTML page holding only the form, for sites that prefer an `<iframe>`."""
    return _PAGE.substitute(
        title=html.escape(form.title),
        script=html.escape(f"/forms/{form.key}/embed.js"),
    )


def frame_ancestors(form: FormConfig) -> str:
    """The CSP `frame-ancestors` value: only the sites allowed to post may frame the form."""
    if "*" in form.allowed_origins:
        return "*"
    return " ".join(["'self'", *form.allowed_origins])
