"""Who is calling, as the HTTP layer knows them."""
from __future__ import annotations

from dataclasses import dataclass

from crm_store.models import User
from crm_store.types import Role, Viewer


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    username: str
    display_name: str
    role: Role
    team_id: int | None
    locale: str
    token: str

    @property
    def viewer(self) -> Viewer:
        return Viewer(self.user_id, self.role, self.team_id)

    @classmethod
    def of(cls, user: User, token: str) -> Principal:
        return cls(user.id, user.username, user.display_name, Role(user.role), user.team_id, user.locale, token)
