"""Pure decoding of a form body (urlencoded, multipart, JSON) that was already read within its size limit."""
from __future__ import annotations

import email.parser
import email.policy

from yarl import URL

from channels.http_body import MalformedJson, parse_json
from channels.webform.parse import FormError, fields_from_pairs

URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
JSON = "application/json"
MEDIA_TYPES = (URLENCODED, MULTIPART, JSON)

# More inputs than any real form has; a bound so one request cannot build a huge dict.
MAX_FIELDS = 100


def decode_body(content_type: str, body: bytes) -> dict[str, str]:
    """Fields of `body` by its Content-Type header; raises FormError (400 malformed, 415 unsupported)."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == URLENCODED:
        return _urlencoded(body)
    if media_type == MULTIPART:
        return _multipart(content_type, body)
    if media_type == JSON or (media_type.startswith("application/") and media_type.endswith("+json")):
        return _json(body)
    raise FormError("unsupported_media_type", None,
                    f"send {URLENCODED}, {MULTIPART} or {JSON}", status=415)


def _text(raw: bytes, charset: str | None = None) -> str:
    try:
        return raw.decode(charset or "utf-8")
    except (UnicodeDecodeError, LookupError):
        raise FormError("malformed", None, "the body is not valid UTF-8 text", status=400) from None


def _urlencoded(body: bytes) -> dict[str, str]:
    text = _text(body)
    if text.count("&") >= MAX_FIELDS:    # the bound urllib's parse_qsl(max_num_fields=) puts on a body
        raise FormError("malformed", None, f"more than {MAX_FIELDS} fields", status=400)
    # yarl's query parser (C) reads a form body exactly as parse_qsl(keep_blank_values=True) does
    # ('+' as space, bad escapes kept, bad UTF-8 replaced), 40x faster on a Cyrillic message.
    return fields_from_pairs(URL.build(query_string=text, encoded=True).query.items())


def _multipart(content_type: str, body: bytes) -> dict[str, str]:
    # The stdlib MIME parser reads the bytes we already hold; the size limit was enforced while reading.
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1", "replace")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart() or message.get_boundary() is None:
        raise FormError("malformed", None, "multipart body without parts or boundary", status=400)
    pairs: list[tuple[str, str]] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            # An empty <input type=file> still sends a part; a real file is not something we store.
            if payload or part.get_filename():
                raise FormError("file_not_accepted", name, "this form accepts text fields only, not files",
                                status=415)
            continue
        pairs.append((name, _text(payload, part.get_content_charset())))
        if len(pairs) > MAX_FIELDS:
            raise FormError("malformed", None, f"more than {MAX_FIELDS} fields", status=400)
    return fields_from_pairs(pairs)


def _json(body: bytes) -> dict[str, str]:
    try:
        data = parse_json(_text(body))
    except MalformedJson as exc:
        raise FormError("malformed", None, str(exc), status=400) from None
    if not isinstance(data, dict):
        raise FormError("malformed", None, "the JSON body must be an object of field names to values", status=400)
    if len(data) > MAX_FIELDS:
        raise FormError("malformed", None, f"more than {MAX_FIELDS} fields", status=400)
    fields: dict[str, str] = {}
    for name, value in data.items():
        if value is None:
            continue
        if isinstance(value, bool):
            fields[name] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            # A phone posted as a JSON number (79123456789) is still a phone.
            fields[name] = str(value)
        else:
            raise FormError("invalid", name, f"{name} must be a string, not a list or object", status=400)
    return fields
