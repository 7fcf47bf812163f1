"""Signing in with a Cloud ID, user name and password; bearer tokens; throttling failures.

The add-in's security page: a token valid 24 hours, renewed silently while it
is used; disabling a user or changing their password cuts access off at
once. Only a SHA-256 of each token is stored, so a copy of the database holds
no usable token. Failed attempts are counted per user and per client address;
past the limit, the answer is 429 with Retry-After, whatever the password.
Every wrong answer (Cloud ID, user, password, disabled) is the same sentence.

A sign-in that fails on the server's side (no usable ``MAILFILER_SECRET_KEY``,
the CRM unreachable) is not the user's failure: it is not counted, and the
user is told so, while the log tells the administrator what to fix.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import bindparam, case, delete, select, update
from sqlalchemy.orm import Session

from mailfiler import accounts, logs
from mailfiler.connectors.base import RemoteUser, UserAccess
from mailfiler.core.organisation import Tenant
from mailfiler.errors import NotFound, SystemFault, Throttled, Unauthenticated
from mailfiler.storage import secrets as stored_secrets
from mailfiler.storage.database import insert_into, rows
from mailfiler.storage.tables import (
    Organisation,
    SignInSession,
    SignInThrottle,
    User,
    now,
)

TOKEN_LIFETIME: Final = timedelta(hours=24)
# A token is pushed forward at most once in this span, not on every request.
RENEW_EVERY: Final = timedelta(minutes=5)

WINDOW: Final = timedelta(minutes=15)
BLOCK: Final = timedelta(minutes=15)
MAX_FAILURES_PER_USER: Final = 5
MAX_FAILURES_PER_ADDRESS: Final = 20

WRONG_CREDENTIALS: Final = "the Cloud ID, user name or password is not right"
# Said to the user when the installation's set-up fails them: not their password.
NOT_SET_UP: Final = stored_secrets.NOT_SET_UP
SIGN_IN_ENDED: Final = "your sign-in has ended: sign in again"

log = logs.get_logger("mailfiler.accounts.signin")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Attempt:
    """The outcome of a sign-in, returned (not raised) so that failures are counted and kept."""

    token: str | None = None
    expires_at: datetime | None = None
    user: User | None = None
    failure: Unauthenticated | Throttled | None = None


Units = Callable[..., AbstractContextManager[Session]]  # Service.unit: (reading=False) -> a session


@dataclass(frozen=True)
class _Limit:
    key: str
    most: int  # checks allowed in a window


class _Refused(Exception):
    def __init__(self, wait: int) -> None:
        self.wait = wait


# Where the CRM checks passwords (iMIS): the organisation -> how, or None (mailfiler does).
RemoteCheck = Callable[[Tenant], Callable[[str, str], RemoteUser | None] | None]


def attempt(
    units: Units,
    cloud_id: str,
    username: str,
    password: str,
    client: str,
    *,
    remote: RemoteCheck | None = None,
) -> Attempt:
    """Check a sign-in: claim an attempt for the user, check the password, settle the counts.

    The user's attempt is counted *before* the password is checked, by one
    atomic upsert, and committed: of 32 simultaneous wrong passwords for one
    user, exactly ``MAX_FAILURES_PER_USER`` are checked, whatever the
    database, and the rest are refused without hashing anything. A right
    password takes its attempt back.

    The client address's count is of failures only, added after the check (so
    that thirty colleagues behind one office address can sign in at 9 o'clock
    together); at most ``PASSWORD_CHECKS_AT_ONCE`` checks per server process
    can be under way when it reaches its limit, which bounds the overshoot.

    For an organisation whose CRM checks passwords (``remote``: iMIS), the CRM
    checks it and says the user's roles; mailfiler keeps the user's row (no
    password), and their own CRM token, encrypted, with the sign-in. The keys
    it needs are checked before the password is sent to the CRM at all.

    A failure on the server's side (the keys, the CRM unreachable, a check
    that cannot start) gives the user's attempt back: a right password is
    never counted as a wrong one.
    """
    user_limit = _Limit(
        f"user:{cloud_id.strip().lower()}:{username.strip().lower()}", MAX_FAILURES_PER_USER
    )
    address_limit = _Limit(f"address:{client}", MAX_FAILURES_PER_ADDRESS)
    try:
        with units() as session:
            _refuse_if_blocked(session, address_limit, now())
            _claim(session, user_limit, now())
    except _Refused as refused:  # rolled back: a refused attempt counts nowhere
        return Attempt(failure=Throttled(_wait_sentence(refused.wait), refused.wait))
    with units(reading=True) as session:
        tenant = _tenant(session, cloud_id)
        user = _user(session, tenant, username)
    check = remote(tenant) if remote is not None and tenant is not None else None
    remote_user: RemoteUser | None = None
    sealed: str | None = None
    try:
        if check is not None:
            assert tenant is not None
            keys = _keys_for_a_remote_sign_in(tenant)
            remote_user = check(username, password)
            right = remote_user is not None and not (user is not None and user.disabled)
            sealed = _sealed(keys, remote_user)
        else:
            with accounts.password_check_slot():
                right = _check(user, password)
    except (Throttled, SystemFault) as unanswered:
        with units() as session:
            _give_back(session, user_limit)  # the server failed, not the user: nothing counted
        if isinstance(unanswered, Throttled):
            return Attempt(failure=unanswered)
        if isinstance(unanswered, stored_secrets.KeyUnusable | stored_secrets.Unreadable):
            raise _not_set_up(
                f"a sign-in to {cloud_id} could not be checked", unanswered
            ) from unanswered
        raise
    if not right or tenant is None or (check is None and user is None):
        with units() as session:
            _count(session, address_limit, now())
        return Attempt(failure=Unauthenticated(WRONG_CREDENTIALS))
    token = secrets.token_urlsafe(32)
    with units() as session:
        if remote_user is not None:
            user = accounts.remember_remote_user(session, tenant, remote_user)
        assert user is not None
        moment = now()  # after the user's row: a sign-in older than it would be refused
        expires_at = moment + TOKEN_LIFETIME
        session.execute(delete(SignInThrottle).where(SignInThrottle.key == user_limit.key))
        session.add(
            SignInSession(
                token_hash=token_hash(token),
                user_id=user.id,
                organisation_id=user.organisation_id,
                created_at=moment,
                expires_at=expires_at,
                crm_token=sealed,
            )
        )
    return Attempt(token=token, expires_at=expires_at, user=user)


def _keys_for_a_remote_sign_in(tenant: Tenant) -> stored_secrets.Keys:
    """The keys that seal the user's CRM token, once the background password (with which
    the CRM is asked the user's roles) is known to open with them: checked before the
    user's password leaves for the CRM, so a key missing or wrong costs them nothing."""
    if tenant.background_secret:
        stored_secrets.decrypt(tenant.background_secret)
    return stored_secrets.keys()


def _sealed(keys: stored_secrets.Keys, remote_user: RemoteUser | None) -> str | None:
    """The user's own CRM token, encrypted, with when it ends."""
    if remote_user is None:
        return None
    ends = remote_user.access_expires_at.isoformat()
    access = remote_user.access
    return keys.encrypt(json.dumps({"token": access.token, "site": access.site, "ends": ends}))


def unsealed(stored: str | None) -> UserAccess | None:
    """The user's own CRM token from a sign-in, while it lasts.

    A token that no key opens (sealed with a key dropped before ``mailfiler
    rotate-key`` re-encrypted it) ends the sign-in: ``Unauthenticated``, and
    the user signs in again.
    """
    if not stored:
        return None
    try:
        text = stored_secrets.keys().decrypt(stored)
    except stored_secrets.KeyUnusable as error:
        raise _not_set_up("a signed-in user's CRM token cannot be read", error) from error
    except stored_secrets.Unreadable as error:
        log.warning(
            "a sign-in's CRM token opens with no key in %s (the key it was sealed with was "
            "dropped before it was re-encrypted): its user is asked to sign in again",
            stored_secrets.KEY_VARIABLE,
        )
        raise Unauthenticated(SIGN_IN_ENDED) from error
    data = json.loads(text)
    if datetime.fromisoformat(data["ends"]) <= now():
        return None
    return UserAccess(str(data["token"]), str(data.get("site") or ""))


def _not_set_up(what: str, cause: SystemFault) -> SystemFault:
    """The user's sentence for a fault in the installation's set-up; what to fix goes to the
    log, for the administrator."""
    log.error("%s: %s", what, cause)
    return SystemFault(NOT_SET_UP)


def _wait_sentence(wait: int) -> str:
    minutes = (wait + 59) // 60
    span = f"{minutes} minutes" if minutes > 1 else "a minute"
    return f"too many failed sign-ins: try again in {span}"


def _tenant(session: Session, cloud_id: str) -> Tenant | None:
    try:
        return accounts.tenant(session, cloud_id)
    except NotFound:
        return None


def _user(session: Session, tenant: Tenant | None, username: str) -> User | None:
    if tenant is None:
        return None
    try:
        return accounts.user(session, tenant, username)
    except NotFound:
        return None


def _check(user: User | None, password: str) -> bool:
    if user is None:
        accounts.spend_a_password_check()  # as long as a real check: timing tells nothing
        return False
    return accounts.check_password(user, password) and not user.disabled


def _claim(session: Session, limit: _Limit, moment: datetime) -> None:
    """Count one attempt against ``limit``; ``_Refused`` (with the wait) when it is used up."""
    failures, blocked_until = _count(session, limit, moment)
    if blocked_until is not None and blocked_until > moment:
        raise _Refused(int((blocked_until - moment).total_seconds()) + 1)
    if failures > limit.most:
        raise _Refused(int(BLOCK.total_seconds()))


def _refuse_if_blocked(session: Session, limit: _Limit, moment: datetime) -> None:
    row = session.get(SignInThrottle, limit.key)
    if row is not None and row.blocked_until is not None and row.blocked_until > moment:
        raise _Refused(int((row.blocked_until - moment).total_seconds()) + 1)


def _count(session: Session, limit: _Limit, moment: datetime) -> tuple[int, datetime | None]:
    """One more attempt against ``limit``, in one atomic upsert (never a unique-key clash).

    Returns the count and the block as it was before. While blocked nothing is
    counted (a block is not pushed further); the attempt that reaches the
    limit is the last allowed, and starts the block.
    """
    table = SignInThrottle.__table__
    expired = table.c.window_started_at < moment - WINDOW
    blocked = table.c.blocked_until > moment
    statement = (
        insert_into(session, SignInThrottle)
        .values(key=limit.key, failures=1, window_started_at=moment, blocked_until=None)
        .on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "failures": case(
                    (blocked, table.c.failures), (expired, 1), else_=table.c.failures + 1
                ),
                "window_started_at": case(
                    (blocked, table.c.window_started_at),
                    (expired, moment),
                    else_=table.c.window_started_at,
                ),
            },
        )
        .returning(table.c.failures, table.c.blocked_until)
    )
    failures, blocked_until = session.execute(statement).one()
    if failures == limit.most:
        session.execute(
            update(SignInThrottle)
            .where(SignInThrottle.key == limit.key)
            .values(blocked_until=moment + BLOCK)
        )
    return failures, None if blocked_until is None else _utc(blocked_until)


def _give_back(session: Session, limit: _Limit) -> None:
    session.execute(
        update(SignInThrottle)
        .where(SignInThrottle.key == limit.key, SignInThrottle.failures > 0)
        .values(failures=SignInThrottle.failures - 1)
    )


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@dataclass(frozen=True)
class SignedIn:
    user: accounts.Member
    organisation: Any  # a row with the Organisation columns (see accounts.tenant_of)
    expires_at: datetime
    crm_token: str | None = None  # sealed (see ``unsealed``)


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
        Organisation.crm,
        Organisation.crm_settings,
        Organisation.background_secret,
        SignInSession.crm_token,
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
    return SignedIn(user=user, organisation=row, expires_at=expires_at, crm_token=row.crm_token)


def sign_out(session: Session, token: str) -> None:
    session.execute(delete(SignInSession).where(SignInSession.token_hash == token_hash(token)))


def sign_out_everywhere(session: Session, user: User) -> None:
    session.execute(delete(SignInSession).where(SignInSession.user_id == user.id))
