"""Organisations (tenants, named by their Cloud ID), their users, and their options.

Functions here read and write inside the caller's unit of work; they never
commit. Passwords are hashed with Argon2id.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from typing import Any, Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mailfiler.connectors.base import RemoteUser
from mailfiler.core.options import (
    EDITIONS,
    ActivityField,
    ActivityType,
    Options,
    validate,
)
from mailfiler.core.organisation import CrmSettings, Tenant
from mailfiler.core.plan import Filer
from mailfiler.errors import BadRequest, Conflict, Throttled, UnknownOrganisation, UnknownUser
from mailfiler.storage import secrets as stored_secrets
from mailfiler.storage.tables import ActivityTypeSetup, Organisation, User, now

# A user's row, for the callers that change one (the table stays behind this name).
UserRow = User

_hasher = PasswordHasher()
_dummy: dict[str, str] = {}


def use_password_hasher(hasher: PasswordHasher) -> None:
    """Replace the Argon2 parameters (the test suite uses cheap ones; production the defaults)."""
    global _hasher
    _hasher = hasher
    _dummy.clear()


# Argon2 takes 64 MiB and a core for each check (its defaults, by design). One
# at a time in a process (a server has a process per core); the others wait a
# little, then are asked to come back: 32 sign-ins at once cannot take 2 GB.
PASSWORD_CHECKS_AT_ONCE: Final = 1
PASSWORD_CHECK_WAIT: Final = 10.0  # seconds
_checks = threading.BoundedSemaphore(PASSWORD_CHECKS_AT_ONCE)


@contextmanager
def password_check_slot() -> Iterator[None]:
    """One of the few password checks this process runs at a time; ``Throttled`` when
    none comes free within ``PASSWORD_CHECK_WAIT``."""
    if not _checks.acquire(timeout=PASSWORD_CHECK_WAIT):
        raise Throttled("the server is busy checking other sign-ins: try again in a few seconds", 5)
    try:
        yield
    finally:
        _checks.release()


def spend_a_password_check() -> None:
    """As long as a real check, for a user who does not exist: timing tells nothing."""
    if "hash" not in _dummy:
        _dummy["hash"] = _hasher.hash("not a password anyone has")
    with suppress(VerificationError):
        _hasher.verify(_dummy["hash"], "not a password anyone has either")


@dataclass(frozen=True)
class Member:
    """A user as a request needs them (the table row stays with the session)."""

    id: int
    username: str
    email: str
    roles: tuple[str, ...]
    disabled: bool


def member(row: User) -> Member:
    return Member(row.id, row.username, row.email, tuple(row.roles or ()), row.disabled)


# -- organisations ----------------------------------------------------------------


def create_organisation(
    session: Session,
    cloud_id: str,
    name: str,
    background_account: str,
    edition: str = "enterprise",
    *,
    crm: str = "builtin",
    remote: bool = False,
    crm_url: str | None = None,
    background_password: str | None = None,
    activity_types: tuple[ActivityType, ...] | None = None,
) -> Tenant:
    """A new organisation filing into the CRM named ``crm`` (``remote``: a CRM elsewhere, at
    ``crm_url``, signed in to with the background account's password). ``activity_types``:
    what it starts with (its CRM plug-in's own); the built-in set-up when None."""
    cloud_id = cloud_id.strip()
    if not cloud_id or not cloud_id.replace("-", "").replace("_", "").isalnum():
        raise BadRequest("a Cloud ID is letters, digits, '-' and '_'")
    if edition not in EDITIONS:
        raise BadRequest(f"edition must be one of {', '.join(EDITIONS)}")
    if not background_account.strip():
        raise BadRequest("an organisation needs a background account (typically MANAGER)")
    if session.scalar(select(Organisation).where(Organisation.cloud_id_key == cloud_id.lower())):
        raise Conflict(f"an organisation with Cloud ID {cloud_id} exists already")
    row = Organisation(
        cloud_id=cloud_id,
        cloud_id_key=cloud_id.lower(),
        name=name.strip() or cloud_id,
        background_account=background_account.strip(),
        edition=edition,
        options={},
        crm=crm,
        crm_settings={},
    )
    session.add(row)
    session.flush()
    options = Options()
    if activity_types is not None:
        options = replace(options, activity_types=activity_types)
    if remote:
        if not crm_url:
            raise BadRequest(
                "an organisation filing into iMIS needs its site's address (--imis-url)"
            )
        if not background_password:
            raise BadRequest(
                "an organisation filing into iMIS needs its background account's password"
            )
        _write_activity_types(session, row.id, options)
        return set_crm(session, cloud_id, url=crm_url, background_password=background_password)
    _write_activity_types(session, row.id, options)
    return tenant(session, cloud_id)


# Said wherever the iMIS address is changed without the password (API, CLI, Options screen).
NEW_ADDRESS_ALONE: Final = (
    "changing the iMIS address needs the background account's password in the same change: "
    "mailfiler never sends the stored password to a new address"
)
NEW_ACCOUNT_ALONE: Final = (
    "changing the background account needs its password in the same change: the stored "
    "password is kept for the account it was set for"
)


def set_crm(
    session: Session,
    cloud_id: str,
    *,
    remote: bool = True,
    url: str | None = None,
    background_account: str | None = None,
    background_password: str | None = None,
    mapping: Mapping[str, Any] | None = None,
) -> Tenant:
    """Change where a remote CRM is and how mailfiler signs in to it (never shown back);
    see ``crm_changed``."""
    row = _organisation_row(session, cloud_id)
    changed = crm_changed(
        tenant_of(session, row), remote=remote, url=url, background_account=background_account,
        background_password=background_password, mapping=mapping,
    )  # fmt: skip
    row.background_account = changed.background_account
    row.crm_settings = changed.crm_settings.to_stored()
    row.background_secret = changed.background_secret
    row.options_version = (row.options_version or 0) + 1
    session.flush()
    return tenant(session, cloud_id)


def crm_changed(
    organisation: Tenant,
    *,
    remote: bool = True,
    url: str | None = None,
    background_account: str | None = None,
    background_password: str | None = None,
    mapping: Mapping[str, Any] | None = None,
) -> Tenant:
    """The organisation as this change of where its CRM is would leave it, nothing stored
    (what a check of the CRM before the change is kept connects to). ``url`` and
    ``mapping``: as the CRM plug-in's settings checked them
    (``service.organisations.checked_change``).

    A new address or account needs the password in the same change: the stored password
    is sealed with the address and account it was set for, and never sent elsewhere.
    """
    if not remote and (url or background_password or mapping):
        raise BadRequest(
            f"{organisation.cloud_id} files into the built-in CRM: it has no CRM address"
        )
    if background_account is not None and not background_account.strip():
        raise BadRequest("the background account needs a name (typically MANAGER)")
    settings = organisation.crm_settings
    if remote and background_password is None:
        if url is not None and _site_text(url) != settings.url:
            raise BadRequest(NEW_ADDRESS_ALONE)
        if background_account is not None and (
            background_account.strip().lower() != organisation.background_account.lower()
        ):
            raise BadRequest(NEW_ACCOUNT_ALONE)
    account = organisation.background_account
    if background_account is not None:
        account = background_account.strip()
    if url is not None:
        url = _site_text(url)
        if not url.startswith(("https://", "http://")) or " " in url:
            raise BadRequest(f"{url!r} is not the address of an iMIS site (https://…)")
        settings = replace(settings, url=url)
    if mapping is not None:  # checked by the CRM plug-in's settings
        settings = replace(settings, mapping=dict(mapping))
    secret = organisation.background_secret
    if background_password is not None:
        if not background_password:
            raise BadRequest("the background account's password is empty")
        secret = stored_secrets.seal_background(settings.url or "", account, background_password)
    return replace(
        organisation, background_account=account, crm_settings=settings,
        background_secret=secret,
    )  # fmt: skip


def _site_text(url: str) -> str:
    return url.strip().rstrip("/")


def set_site_facts(
    session: Session, cloud_id: str, facts_json: Mapping[str, Any], *, for_site: str | None = None
) -> bool:
    """Keep what the CRM's set-up check learnt of the site (``CrmSettings.site``).
    ``for_site``: the address the check asked; when the organisation has moved since, the
    facts describe another site and are not kept (False)."""
    row = _organisation_row(session, cloud_id)
    settings = CrmSettings.from_stored(row.crm_settings)
    if for_site is not None and _site_text(settings.url or "") != _site_text(for_site):
        return False
    row.crm_settings = replace(settings, site=dict(facts_json)).to_stored()
    row.options_version = (row.options_version or 0) + 1
    session.flush()
    return True


def stored_background_passwords(session: Session) -> dict[str, str]:
    """Cloud ID -> the stored (encrypted) background password, for every organisation that
    has one (those that file into a CRM of their own, such as iMIS)."""
    found = session.execute(
        select(Organisation.cloud_id, Organisation.background_secret)
        .where(Organisation.background_secret.is_not(None))
        .order_by(Organisation.cloud_id_key)
    )
    return {cloud_id: secret for cloud_id, secret in found if secret}


def _organisation_row(session: Session, cloud_id: str) -> Organisation:
    row = session.scalar(
        select(Organisation).where(Organisation.cloud_id_key == cloud_id.strip().lower())
    )
    if row is None:
        raise UnknownOrganisation(f"no organisation has the Cloud ID {cloud_id}")
    return row


def tenant(session: Session, cloud_id: str) -> Tenant:
    return tenant_of(session, _organisation_row(session, cloud_id))


# (database, organisation id, options version) -> its options, in this process.
_OPTIONS: dict[tuple[str, int, int], Options] = {}


def tenant_of(session: Session, row: Organisation | Any) -> Tenant:
    """The organisation of a row (an ``Organisation``, or a row with its columns)."""
    key = (str(session.get_bind().engine.url), row.id, row.options_version)
    options = _OPTIONS.get(key)
    if options is None:
        options = _options(session, row)
        if len(_OPTIONS) > 10_000:
            _OPTIONS.clear()
        _OPTIONS[key] = options
    return Tenant(
        id=row.id,
        cloud_id=row.cloud_id,
        name=row.name,
        background_account=row.background_account,
        options=options,
        crm=row.crm or "builtin",
        crm_settings=CrmSettings.from_stored(row.crm_settings),
        background_secret=row.background_secret,
    )


def _options(session: Session, row: Organisation | Any) -> Options:
    types = session.scalars(
        select(ActivityTypeSetup)
        .where(ActivityTypeSetup.organisation_id == row.id)
        .order_by(ActivityTypeSetup.position)
    ).all()
    # Read here, not with every request's organisation row: the options are
    # parsed once per change (see tenant_of).
    stored = dict(
        session.scalar(select(Organisation.options).where(Organisation.id == row.id)) or {}
    )
    default = next((t.code for t in types if t.is_default), types[0].code if types else "")
    return replace(
        Options.from_json(stored) if stored else Options(),
        edition=row.edition,  # type: ignore[arg-type]
        activity_types=tuple(_activity_type(t) for t in types),
        default_activity_type=default,
    )


def _activity_type(row: ActivityTypeSetup) -> ActivityType:
    setup: dict[str, Any] = dict(row.setup or {})
    return ActivityType(
        code=row.code,
        name=row.name,
        fields=tuple(ActivityField(f["name"], f["label"]) for f in setup.get("fields", [])),
        defaults=dict(setup.get("defaults", {})),
        mapping=dict(setup.get("mapping", {})),
        roles=tuple(setup.get("roles", [])),
    )


def set_options(session: Session, cloud_id: str, options: Options) -> Tenant:
    """Replace an organisation's options (validated first: nothing is half-changed)."""
    validate(options)
    row = _organisation_row(session, cloud_id)
    stored = options.to_json()
    for column_backed in ("edition", "activity_types", "default_activity_type"):
        stored.pop(column_backed)
    row.options = stored
    row.edition = options.edition
    row.options_version = (row.options_version or 0) + 1
    _write_activity_types(session, row.id, options)
    session.flush()
    return tenant(session, cloud_id)


def _write_activity_types(session: Session, organisation_id: int, options: Options) -> None:
    session.execute(
        delete(ActivityTypeSetup).where(ActivityTypeSetup.organisation_id == organisation_id)
    )
    for position, activity_type in enumerate(options.activity_types):
        session.add(
            ActivityTypeSetup(
                organisation_id=organisation_id,
                code=activity_type.code,
                name=activity_type.name,
                position=position,
                is_default=activity_type.code.lower() == options.default_activity_type.lower(),
                setup={
                    "fields": [{"name": f.name, "label": f.label} for f in activity_type.fields],
                    "defaults": dict(activity_type.defaults),
                    "mapping": dict(activity_type.mapping),
                    "roles": list(activity_type.roles),
                },
            )
        )
    session.flush()


# -- users ----------------------------------------------------------------------------


def add_user(
    session: Session,
    organisation: Tenant,
    username: str,
    email: str = "",
    roles: Iterable[str] = (),
    password: str | None = None,
) -> User:
    username = username.strip()
    if not username:
        raise BadRequest("a user needs a user name")
    if _find_user(session, organisation.id, username) is not None:
        raise Conflict(f"user {username} exists already in {organisation.cloud_id}")
    if password is not None and len(password) < 8:
        raise BadRequest("a password needs at least 8 characters")
    row = User(
        organisation_id=organisation.id,
        username=username,
        username_key=username.lower(),
        email=email.strip(),
        roles=_clean_roles(roles),
        password_hash=_hasher.hash(password) if password is not None else None,
        disabled=False,
    )
    session.add(row)
    session.flush()
    return row


def _clean_roles(roles: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(r.strip() for r in roles if r.strip()))


def _find_user(session: Session, organisation_id: int, username: str) -> User | None:
    return session.scalar(
        select(User).where(
            User.organisation_id == organisation_id,
            User.username_key == username.strip().lower(),
        )
    )


def find_user(session: Session, organisation: Tenant, username: str) -> User | None:
    return _find_user(session, organisation.id, username)


def user(session: Session, organisation: Tenant, username: str) -> User:
    row = _find_user(session, organisation.id, username)
    if row is None:
        raise UnknownUser(f"no user {username} in {organisation.cloud_id}")
    return row


def users(session: Session, organisation: Tenant) -> list[User]:
    return list(
        session.scalars(
            select(User).where(User.organisation_id == organisation.id).order_by(User.username_key)
        )
    )


def remember_remote_user(session: Session, organisation: Tenant, remote: RemoteUser) -> User:
    """The row of a user the CRM signed in (iMIS): made on first sign-in, its email and roles
    as the CRM says them now. It holds no password: the CRM checks it each time."""
    row = _find_user(session, organisation.id, remote.username)
    if row is None:
        row = add_user(session, organisation, remote.username, remote.email, remote.roles)
    else:
        row.email = remote.email or row.email
        row.roles = _clean_roles(remote.roles)
    session.flush()
    return row


def filer(user: Member) -> Filer:
    """The user as the filing rules see them."""
    return Filer(
        username=user.username,
        roles=frozenset(user.roles),
        addresses=(user.email,) if user.email else (),
    )


def check_password(row: User, password: str) -> bool:
    if not row.password_hash:
        return False
    try:
        return _hasher.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def set_password(row: User, password: str) -> None:
    if len(password) < 8:
        raise BadRequest("a password needs at least 8 characters")
    row.password_hash = _hasher.hash(password)
    row.credentials_changed_at = now()


def set_disabled(row: User, disabled: bool) -> None:
    row.disabled = disabled
    row.credentials_changed_at = now()


def set_roles(row: User, roles: Iterable[str]) -> None:
    row.roles = _clean_roles(roles)
