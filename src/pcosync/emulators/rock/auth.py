"""Who is calling (spec §1): the ``.ROCK`` cookie, then ``Authorization-Token``, then ``?apikey=``.

Anything that does not identify a person continues as *anonymous*; only the endpoint's
security decides. Anonymous callers may read nothing unless the control API grants it
(``POST /__emulator__/anonymous``), which is how the "wrong key still works" quirk is tested.
A caller without the right gets 401 with an empty body.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from pcosync.emulators.rock.core import Caller, Rights, RockData

COOKIE_NAME = ".ROCK"


@dataclass
class Login:
    person_id: int
    username: str | None = None
    password: str | None = None
    api_key: str | None = None
    rights: Rights = field(default_factory=Rights)


class Auth:
    """User logins (REST keys and passwords), cookie sessions, and the anonymous rights."""

    def __init__(self, data: RockData) -> None:
        self.data = data
        self.logins: list[Login] = []
        self.sessions: dict[str, int] = {}
        self.anonymous = Rights()

    def add(self, login: Login) -> Login:
        self.logins.append(login)
        return login

    def by_key(self, key: str) -> Login | None:
        for login in self.logins:
            if login.api_key is not None and secrets.compare_digest(login.api_key, key):
                return login
        return None

    def by_password(self, username: str, password: str) -> Login | None:
        for login in self.logins:
            if (
                login.username is not None
                and login.password is not None
                and login.username.lower() == username.lower()
                and secrets.compare_digest(login.password, password)
            ):
                return login
        return None

    def rights_of(self, person_id: int) -> Rights:
        granted = Rights()
        for login in self.logins:
            if login.person_id == person_id:
                granted.view |= login.rights.view
                granted.edit |= login.rights.edit
                granted.deny_attributes |= login.rights.deny_attributes
        return granted

    def start_session(self, login: Login) -> str:
        token = secrets.token_hex(32).upper()
        self.sessions[token] = login.person_id
        return token

    def identify(self, cookie: str | None, header_key: str | None, query_key: str | None) -> Caller:
        person_id: int | None = None
        if cookie and cookie in self.sessions:
            person_id = self.sessions[cookie]
        if person_id is None:
            for key in (header_key, query_key):
                if key:
                    login = self.by_key(key)
                    if login is not None:
                        person_id = login.person_id
                        break
        if person_id is None or self.data.get("Person", person_id) is None:
            return Caller(None, None, self.anonymous)
        rights = self.rights_of(person_id)
        alias = self.data.computes["person.primary_alias_id"](
            self.data.get("Person", person_id) or []
        )
        return Caller(person_id, alias, rights, is_admin="*" in rights.edit)

    def repoint(self, old_person: int, new_person: int) -> None:
        """A merge moves the old person's logins to the survivor."""
        for login in self.logins:
            if login.person_id == old_person:
                login.person_id = new_person
        for token, pid in list(self.sessions.items()):
            if pid == old_person:
                self.sessions[token] = new_person

    def export(self) -> dict[str, Any]:
        return {
            "logins": [
                {
                    "person_id": lg.person_id,
                    "username": lg.username,
                    "password": lg.password,
                    "api_key": lg.api_key,
                    "rights": lg.rights.as_dict(),
                }
                for lg in self.logins
            ],
            "anonymous": self.anonymous.as_dict(),
        }

    def load(self, raw: dict[str, Any]) -> None:
        self.logins = [
            Login(
                person_id=lg["person_id"],
                username=lg.get("username"),
                password=lg.get("password"),
                api_key=lg.get("api_key"),
                rights=_rights(lg.get("rights", {})),
            )
            for lg in raw.get("logins", [])
        ]
        self.anonymous = _rights(raw.get("anonymous", {}))
        self.sessions = {}


def _rights(raw: dict[str, Any]) -> Rights:
    return Rights(
        set(raw.get("view", [])), set(raw.get("edit", [])), set(raw.get("deny_attributes", []))
    )
