"""/api/v1/teams: list (scoped: a manager or operator sees their own team), and admins create, rename, delete."""
from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from crm_store import teams
from crm_store.types import Role
from gateway.api.audited import audited
from gateway.api.params import path_id
from gateway.auth import principal, require_role
from gateway.errors import read_model
from gateway.keys import SESSIONS

routes = web.RouteTableDef()


class TeamIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)


def team_json(team: Any, members: int = 0) -> dict[str, Any]:
    return {"id": team.id, "name": team.name, "members": members}


@routes.get("/api/v1/teams")
async def list_teams(request: web.Request) -> web.Response:
    async with request.app[SESSIONS]() as session:
        found = await teams.listed(session, principal(request).viewer)
    return web.json_response({"items": [team_json(t, t.members) for t in found]})


@routes.post("/api/v1/teams")
async def add_team(request: web.Request) -> web.Response:
    await require_role(request, Role.ADMIN)
    body = await read_model(request, TeamIn)

    async def work(session: Any) -> tuple[Any, dict[str, Any]]:
        team = await teams.create(session, body.name)
        return team_json(team), {"team_id": team.id, "name": team.name}

    return web.json_response(await audited(request, "team.create", work), status=201)


@routes.patch("/api/v1/teams/{team_id:[0-9]+}")
async def rename_team(request: web.Request) -> web.Response:
    await require_role(request, Role.ADMIN)
    team_id = path_id(request, "team_id", "team")
    body = await read_model(request, TeamIn)

    async def work(session: Any) -> tuple[Any, dict[str, Any]]:
        team, before = await teams.rename(session, team_id, body.name)
        return team_json(team), {"team_id": team_id, "name": team.name, "was": before}

    return web.json_response(await audited(request, "team.rename", work))


@routes.delete("/api/v1/teams/{team_id:[0-9]+}")
async def delete_team(request: web.Request) -> web.Response:
    await require_role(request, Role.ADMIN)
    team_id = path_id(request, "team_id", "team")

    async def work(session: Any) -> tuple[Any, dict[str, Any]]:
        name = await teams.delete(session, team_id)
        return None, {"team_id": team_id, "name": name}

    await audited(request, "team.delete", work)
    return web.Response(status=204)
