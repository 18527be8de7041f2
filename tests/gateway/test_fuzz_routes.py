"""Every route, fed generated paths, queries and bodies by a signed-in admin: never a 500, healthy after."""
from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_store.types import Role

# Routes whose effect would end the fuzzing itself (sign-out) or that are not HTTP exchanges (websocket).
SKIPPED = {"/ws", "/api/v1/auth/logout"}
_PARAM = re.compile(r"\{([^}:]+)(:[^}]*)?\}")

texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30) | st.sampled_from(
    ["0", "1", "-1", "²", "١٢", "999999999999999999999999", "9999-12-31", "0001-01-01", "me", "none", "\x00",
     "%00", "..", "../../etc/passwd", "a,b", "new,won", "1e400", "NaN"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80) | st.floats() | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4), max_leaves=12)
bodies = st.one_of(
    st.dictionaries(st.sampled_from(["name", "phone", "email", "text", "subject", "status", "notes", "assignee_id",
                                     "outcome", "priority", "fields", "lead_id", "number", "username", "password",
                                     "role", "skills", "capacity", "team", "active", "survivor_id", "presence"])
                    | texts, json_values, max_size=5).map(lambda d: json.dumps(d).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
    st.just(b"[" * 50_000 + b"]" * 50_000),
)


def _routes(app: Any) -> list[tuple[str, str]]:
    found = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter") or info.get("prefix")
        if path and route.method != "HEAD" and path not in SKIPPED:
            found.add((route.method if route.method != "*" else "GET", path))
    return sorted(found)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
async def test_no_route_answers_500_to_anything(api, data):
    if "headers" not in api.__dict__:
        await api.add_user("fuzz", Role.ADMIN)
        api.__dict__["headers"] = await api.login("fuzz")
    headers = api.__dict__["headers"]
    method, template = data.draw(st.sampled_from(_routes(api.client.app)), label="route")
    path = _PARAM.sub(lambda m: data.draw(texts, label=m.group(1)).replace("/", "%2F") or "x", template)
    query = data.draw(st.dictionaries(st.sampled_from(["q", "status", "channel", "assignee", "limit", "offset",
                                                       "lead_id", "since", "until", "by"]) | texts, texts,
                                      max_size=3), label="query")
    body = data.draw(bodies, label="body") if method in ("POST", "PATCH", "PUT") else None
    kind = data.draw(st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain"]))
    try:
        response = await api.client.request(method, path, params=query, data=body,
                                             headers={**headers, "Content-Type": kind})
    except ValueError:      # the client itself refused to build this URL: nothing reached the server
        return
    assert response.status < 500 or response.status in (502, 503), (method, path, response.status,
                                                                     await response.text())
    assert (await api.client.get("/healthz")).status == 200
