"""Signing in with an iMIS user name and password: iMIS checks them, and says the user's roles.

mailfiler keeps no copy of the password: it asks iMIS for a token with it
(``POST /token``), reads the user's roles and email with the background
account (``GET /api/User?UserName=…``, else ``/api/UserSecurity``), and keeps the user's own token,
encrypted, with the sign-in, so that contact searches run under the user's
own iMIS permissions.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from mailfiler.clock import system_clock
from mailfiler.connectors.base import RemoteUser, UserAccess
from mailfiler.connectors.imis import wire
from mailfiler.connectors.imis.client import ImisClient
from mailfiler.connectors.imis.parties import contact_of
from mailfiler.errors import ConnectorUnavailable

log = logging.getLogger("mailfiler.imis")


def sign_in(background: ImisClient, username: str, password: str) -> RemoteUser | None:
    """The user, when iMIS accepts the password; None when it does not.

    The background account signs in first: an organisation whose own password the site
    refuses (pointed at another organisation's site) never gets to try its users'
    passwords there, so the site's answers tell it nothing of that site's users.
    """
    background.ready()
    token = background.user_token(username, password)
    if token is None:
        return None
    found = describe(background, username)
    if found is None:
        # iMIS took the password but lists no such user for the background account to read:
        # no roles read is never "no roles".
        log.warning(
            "iMIS at %s signed %s in, but /api/User lists no such user for the background "
            "account: their roles cannot be read",
            background.site, username.strip(),
        )  # fmt: skip
        raise RolesUnread(ROLES_UNREAD)
    name, email, roles = found
    lifetime = timedelta(seconds=max(token.expires_at - background.now(), 0))
    return RemoteUser(
        username=name,
        email=email,
        roles=roles,
        access=UserAccess(token.access_token, background.site),
        access_expires_at=system_clock() + lifetime,
    )


def describe(background: ImisClient, username: str) -> tuple[str, str, tuple[str, ...]] | None:
    """(user name, email, roles) of an iMIS user, read as the background account.

    ``GET /api/User?UserName=…`` answers ``UserData``; where its ``Roles`` come back null
    (reported for EMS), ``GET /api/UserSecurity?UserName=…`` has them. Roles that cannot be
    read are said, never taken as "no roles".
    """
    name = username.strip()
    user = _named(background.get("/api/User", {"UserName": name}), name)
    if user is None:
        return None
    roles = _role_names(user.get("Roles"))
    if roles is None:
        security = _named(background.get("/api/UserSecurity", {"UserName": name}), name)
        roles = _role_names(security.get("Roles")) if security else None
    if roles is None:
        log.warning(
            "iMIS at %s gives no roles for the user %s (neither /api/User nor "
            "/api/UserSecurity): the background account may lack the right to read them",
            background.site, name,
        )  # fmt: skip
        raise RolesUnread(ROLES_UNREAD)
    return str(user.get("UserName") or name), _email(background, user.get("Party")), roles


ROLES_UNREAD = (
    "mailfiler cannot read your roles in iMIS, so it cannot tell what you may do: "
    "tell your administrator"
)


class RolesUnread(ConnectorUnavailable):
    """iMIS did not say a user's roles."""


def _named(answer: Any, username: str) -> dict[str, Any] | None:
    """The one user of that name in an answer (a page, a list or one object)."""
    items = wire.page(answer)[0] if isinstance(answer, dict) and "Items" in answer else (
        wire.values(answer) if not isinstance(answer, dict) else [answer]
    )  # fmt: skip
    return next(
        (
            u
            for u in items
            if isinstance(u, dict) and str(u.get("UserName", "")).lower() == username.lower()
        ),
        None,
    )


def _role_names(roles: Any) -> tuple[str, ...] | None:
    """Role names, from strings or ``RoleData`` (``RoleName``); None when iMIS gave none."""
    if roles is None:
        return None
    names = (
        wire.unwrap(r.get("RoleName") if isinstance(r, dict) else r) for r in wire.values(roles)
    )
    return tuple(str(n) for n in names if n)


def _email(background: ImisClient, party: Any) -> str:
    """The user's own address: their party's (``UserData.Party`` is a reference to it; a
    user name can differ from it)."""
    if not isinstance(party, dict):
        return ""
    if party.get("Email"):
        return str(party["Email"])
    party_id = str(party.get("PartyId") or party.get("Id") or "")
    if not party_id or "/" in party_id:
        return ""
    found = background.get(f"/api/Party/{party_id}")
    return (
        contact_of(found).emails[0] if isinstance(found, dict) and contact_of(found).emails else ""
    )
