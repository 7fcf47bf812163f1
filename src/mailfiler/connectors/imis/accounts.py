"""Signing in with an iMIS user name and password: iMIS checks them, and says the user's roles.

mailfiler keeps no copy of the password: it asks iMIS for a token with it
(``POST /token``), reads the user's roles and email with the background
account (``GET /api/User?UserName=eq:…``), and keeps the user's own token,
encrypted, with the sign-in, so that contact searches run under the user's
own iMIS permissions.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from mailfiler.clock import system_clock
from mailfiler.connectors.base import RemoteUser, UserAccess
from mailfiler.connectors.imis import wire
from mailfiler.connectors.imis.client import ImisClient


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
    name, email, roles = found or (username.strip(), "", ())
    lifetime = timedelta(seconds=max(token.expires_at - background.now(), 0))
    return RemoteUser(
        username=name,
        email=email,
        roles=roles,
        access=UserAccess(token.access_token, background.site),
        access_expires_at=system_clock() + lifetime,
    )


def describe(background: ImisClient, username: str) -> tuple[str, str, tuple[str, ...]] | None:
    """(user name, email, roles) of an iMIS user, read as the background account."""
    mapping = background.mapping
    found = background.get("/api/User", {mapping.user_filter: f"eq:{username.strip()}"})
    users = [u for u in wire.page(found)[0] if isinstance(u, dict)]
    user: dict[str, Any] | None = next(
        (u for u in users if str(u.get("UserName", "")).lower() == username.strip().lower()),
        None,
    )
    if user is None:
        return None
    roles = tuple(
        str(wire.unwrap(r.get("RoleName") if isinstance(r, dict) else r))
        for r in wire.values(user.get("Roles"))
    )
    party = user.get("Party") if isinstance(user.get("Party"), dict) else {}
    email = str((party or {}).get("Email") or "")
    return str(user.get("UserName") or username.strip()), email, tuple(r for r in roles if r)
