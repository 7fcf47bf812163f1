"""Signing in with a Cloud ID, user name and password; bearer tokens; throttling failures.

The add-in's security page: a token valid 24 hours, renewed silently while it
is used; disabling a user or changing their password cuts access off at
once. Only a SHA-256 of each token is stored, so a copy of the database holds
no usable token. Failed attempts are counted per user and per client address;
past the limit, the answer is 429 with Retry-After, whatever the password.
Every wrong answer (Cloud ID, user, password, disabled) is the same sentence.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from mailfiler import accounts
from mailfiler.connectors.builtin.database import rows
from mailfiler.connectors.builtin.tables import (
    Organisation,
    SignInSession,
    SignInThrottle,
    User,
    now,
)
from mailfiler.errors import NotFound, Throttled, Unauthenticated

TOKEN_LIFETIME: Final = timedelta(hours=24)
# A token is pushed forward at most once in this span, not on every request.
RENEW_EVERY: Final = timedelta(minutes=5)

WINDOW: Final = timedelta(minutes=15)
BLOCK: Final = timedelta(minutes=15)
MAX_FAILURES_PER_USER: Final = 5
MAX_FAILURES_PER_ADDRESS: Final = 20

WRONG_CREDENTIALS: Final = "the Cloud ID, user name or password is not right"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Attempt:
    """The outcome of a sign-in, returned (not raised) so that failures are counted and kept."""

    token: str | None = None
    expires_at: datetime | None = None
    user: User | None = None
    failure: Unauthenticated | Throttled | None = None


def attempt(session: Session, cloud_id: str, username: str, password: str, client: str) -> Attempt:
    user_key = f"user:{cloud_id.strip().lower()}:{username.strip().lower()}"
    address_key = f"address:{client}"
    moment = now()
    for key in (user_key, address_key):
        row = session.get(SignInThrottle, key)
        if row is not None and row.blocked_until is not None and row.blocked_until > moment:
            wait = int((row.blocked_until - moment).total_seconds()) + 1
            return Attempt(failure=Throttled("too many failed sign-ins; try again later", wait))
    user = _check(session, cloud_id, username, password)
    if user is None:
        _count_failure(session, user_key, MAX_FAILURES_PER_USER, moment)
        _count_failure(session, address_key, MAX_FAILURES_PER_ADDRESS, moment)
        return Attempt(failure=Unauthenticated(WRONG_CREDENTIALS))
    session.execute(delete(SignInThrottle).where(SignInThrottle.key == user_key))
    token = secrets.token_urlsafe(32)
    expires_at = moment + TOKEN_LIFETIME
    session.add(
        SignInSession(
            token_hash=token_hash(token),
            user_id=user.id,
            organisation_id=user.organisation_id,
            created_at=moment,
            expires_at=expires_at,
        )
    )
    session.flush()
    return Attempt(token=token, expires_at=expires_at, user=user)


def _check(session: Session, cloud_id: str, username: str, password: str) -> User | None:
    try:
        tenant = accounts.tenant(session, cloud_id)
        user = accounts.user(session, tenant, username)
    except NotFound:
        accounts.spend_a_password_check()
        return None
    if not accounts.check_password(user, password) or user.disabled:
        return None
    return user


def _count_failure(session: Session, key: str, limit: int, moment: datetime) -> None:
    row = session.get(SignInThrottle, key)
    if row is None:
        row = SignInThrottle(key=key, failures=0, window_started_at=moment)
        session.add(row)
    if moment - row.window_started_at > WINDOW:
        row.failures = 0
        row.window_started_at = moment
    row.failures += 1
    if row.failures >= limit:
        row.blocked_until = moment + BLOCK
    session.flush()


@dataclass(frozen=True)
class SignedIn:
    user: accounts.Member
    organisation: Any  # a row with the Organisation columns (see accounts.tenant_of)
    expires_at: datetime


# Every request runs this: one query, columns only, for the token, its user
# and their organisation, built once and run on the connection (SQLAlchemy's
# ORM path costs more than the query itself here).
_WHO = (
    select(
        SignInSession.expires_at,
        SignInSession.created_at,
        User.id.label("user_id"),
        User.username,
        User.email,
        User.roles,
        User.disabled,
        User.credentials_changed_at,
        Organisation.id,
        Organisation.cloud_id,
        Organisation.name,
        Organisation.background_account,
        Organisation.edition,
        Organisation.options_version,
    )
    .join(User, User.id == SignInSession.user_id)
    .join(Organisation, Organisation.id == SignInSession.organisation_id)
    .where(SignInSession.token_hash == bindparam("digest"))
)


def authenticate(session: Session, token: str) -> SignedIn:
    """The user behind a token, renewing it; ``Unauthenticated`` if it is unknown or revoked."""
    digest = token_hash(token)
    found = rows(session, _WHO, {"digest": digest})
    row = found[0] if found else None
    moment = now()
    if row is None or row.expires_at <= moment:
        raise Unauthenticated("your sign-in has expired: sign in again")
    if row.disabled or row.created_at < row.credentials_changed_at:
        raise Unauthenticated("your sign-in is no longer valid: sign in again")
    expires_at = row.expires_at.astimezone(UTC)
    if moment + TOKEN_LIFETIME - expires_at > RENEW_EVERY:
        expires_at = moment + TOKEN_LIFETIME
        session.execute(
            update(SignInSession)
            .where(SignInSession.token_hash == digest)
            .values(expires_at=expires_at)
        )
    user = accounts.Member(
        row.user_id, row.username, row.email, tuple(row.roles or ()), row.disabled
    )
    return SignedIn(user=user, organisation=row, expires_at=expires_at)


def sign_out(session: Session, token: str) -> None:
    session.execute(delete(SignInSession).where(SignInSession.token_hash == token_hash(token)))


def sign_out_everywhere(session: Session, user: User) -> None:
    session.execute(delete(SignInSession).where(SignInSession.user_id == user.id))
