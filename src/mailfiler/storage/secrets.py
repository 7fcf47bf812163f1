"""Secrets kept at rest (an iMIS background account's password, a signed-in user's own iMIS
token), encrypted with keys from the environment, ``MAILFILER_SECRET_KEY``, that the database
never holds.

Fernet (AES-128 in CBC mode with an HMAC-SHA256, from ``cryptography``): a
stolen copy of the database, without the key, gives no password away; a
changed ciphertext is refused, not decrypted into something else.

``MAILFILER_SECRET_KEY`` may hold several keys separated by commas
(``new-key,old-key``); spaces around each are ignored. The first encrypts,
every one decrypts (``MultiFernet``), so a key can be rotated without
breaking anything: put the new key first and the old one after it, run
``mailfiler rotate-key`` (``rotate``: every stored secret re-encrypted with
the first key), then drop the old key. The comma cannot be part of a key
made as the README says (``secrets.token_urlsafe``: letters, digits, ``-``
and ``_``). Each key is any text of 16 characters or more.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session

from mailfiler.errors import BadRequest, SystemFault
from mailfiler.storage.tables import Organisation, SignInSession, User

KEY_VARIABLE: Final = "MAILFILER_SECRET_KEY"
SEPARATOR: Final = ","
SHORTEST: Final = 16
MISSING: Final = (
    f"{KEY_VARIABLE} is not set: an iMIS organisation's background password is stored "
    "encrypted with it. Set it to a long random value, the same for every server process "
    "(for example the output of: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
)


# What staff read when the installation cannot open a secret: what to fix is logged for the
# administrator (the key's name is a server setting, not theirs).
NOT_SET_UP: Final = "mailfiler is not fully set up for your organisation: ask your administrator"


class KeyUnusable(SystemFault):
    """``MAILFILER_SECRET_KEY`` is missing, or one of its keys is too short."""


class Unreadable(SystemFault):
    """A stored secret that no key of ``MAILFILER_SECRET_KEY`` decrypts: the key it was
    encrypted with was changed or dropped (or the stored text was changed)."""


@dataclass(frozen=True)
class Keys:
    """The keys of ``MAILFILER_SECRET_KEY``: the first encrypts, every one decrypts."""

    ring: MultiFernet

    def encrypt(self, secret: str) -> str:
        return self.ring.encrypt(secret.encode()).decode("ascii")

    def decrypt(self, stored: str) -> str:
        return self._open(self.ring.decrypt, stored).decode()

    def rotate(self, stored: str) -> str:
        """The secret encrypted again with the first key; ``Unreadable`` as ``decrypt``."""
        return self._open(self.ring.rotate, stored).decode("ascii")

    @staticmethod
    def _open(how: Callable[[bytes], bytes], stored: str) -> bytes:
        try:
            return how(stored.encode("ascii"))
        except (InvalidToken, ValueError) as error:  # ValueError: not ASCII, not base64
            raise Unreadable(
                f"a stored secret cannot be decrypted with any key in {KEY_VARIABLE}"
            ) from error


def keys(environ: Mapping[str, str] | None = None) -> Keys:
    """The installation's keys; ``KeyUnusable`` (the system's fault) when there are none
    or one is too short."""
    return _keys((os.environ if environ is None else environ).get(KEY_VARIABLE, ""))


@lru_cache(maxsize=4)  # every search decrypts a token: the keys are derived once
def _keys(value: str) -> Keys:
    given = [key.strip() for key in value.split(SEPARATOR)]
    given = [key for key in given if key]  # a stray comma ("new,") is not a key
    if not given:
        raise KeyUnusable(MISSING)
    for number, key in enumerate(given, start=1):
        if len(key) < SHORTEST:
            which = f"key number {number} in {KEY_VARIABLE}" if len(given) > 1 else KEY_VARIABLE
            raise KeyUnusable(f"{which} is too short: use {SHORTEST} characters or more")
    # Any text of the administrator's: made into a Fernet key of the right length.
    return Keys(
        MultiFernet(
            [Fernet(base64.urlsafe_b64encode(hashlib.sha256(k.encode()).digest())) for k in given]
        )
    )


def _keys_to_store_with(environ: Mapping[str, str] | None) -> Keys:
    """The keys, for an administrator who stores or rotates secrets: a key missing is
    theirs to set before they do (``BadRequest``), not a failure of the system."""
    try:
        return keys(environ)
    except KeyUnusable as error:
        raise BadRequest(str(error)) from error


def encrypt(secret: str, environ: Mapping[str, str] | None = None) -> str:
    return _keys_to_store_with(environ).encrypt(secret)


def decrypt(stored: str, environ: Mapping[str, str] | None = None) -> str:
    """The background account's password (the one secret an administrator sets); its own
    sentence when no key decrypts it. Other secrets: ``keys().decrypt``."""
    try:
        return keys(environ).decrypt(stored)
    except Unreadable as error:
        raise Unreadable(
            f"the stored background password cannot be decrypted with any key in "
            f"{KEY_VARIABLE}: the key it was stored with was changed or dropped. Put that key "
            f"back in {KEY_VARIABLE} (after the first), or an administrator must set the "
            "password again"
        ) from error


# -- rotating the key ----------------------------------------------------------------------


@dataclass(frozen=True)
class Rotation:
    """What ``rotate`` did: how many secrets now open with the first key, and those that no
    key opens (named; left as they were)."""

    re_encrypted: int
    unreadable: tuple[str, ...]


def rotate(session: Session, environ: Mapping[str, str] | None = None) -> Rotation:
    """Every stored secret (each organisation's background password, each sign-in's CRM
    token) encrypted again with the first key, in the caller's unit of work.

    The rows are locked while they are rewritten (PostgreSQL): a background password
    set meanwhile is not overwritten with the old one.
    """
    current = _keys_to_store_with(environ)
    organisations = session.execute(
        select(Organisation.id, Organisation.background_secret, Organisation.cloud_id)
        .where(Organisation.background_secret.is_not(None))
        .order_by(Organisation.cloud_id)
        .with_for_update()
    ).all()
    passwords, lost_passwords = _rotate_rows(
        session, current, Organisation, organisations,
        lambda row: f"the background password of {row.cloud_id} (set it again: mailfiler "
        f"options set --cloud-id {row.cloud_id} --background-password-stdin)",
    )  # fmt: skip
    sign_ins = session.execute(
        select(
            SignInSession.token_hash,
            SignInSession.crm_token,
            SignInSession.created_at,
            User.username,
            Organisation.cloud_id,
        )
        .join(User, User.id == SignInSession.user_id)
        .join(Organisation, Organisation.id == SignInSession.organisation_id)
        .where(SignInSession.crm_token.is_not(None))
        .order_by(Organisation.cloud_id, User.username, SignInSession.created_at)
        .with_for_update(of=SignInSession)
    ).all()
    tokens, lost_tokens = _rotate_rows(
        session, current, SignInSession, sign_ins,
        lambda row: f"the sign-in of {row.username} at {row.cloud_id} of "
        f"{row.created_at:%Y-%m-%d %H:%M} UTC (they will be asked to sign in again)",
    )  # fmt: skip
    return Rotation(passwords + tokens, (*lost_passwords, *lost_tokens))


def _rotate_rows(
    session: Session,
    current: Keys,
    table: type[Organisation | SignInSession],
    found: Sequence[Row[*tuple[Any, ...]]],
    name: Callable[[Any], str],
) -> tuple[int, list[str]]:
    """Each row's secret (its second column; the first is its primary key, the column names
    as in ``table``) encrypted again; how many were, and the names of those none opens."""
    if not found:
        return 0, []
    key, column = found[0]._fields[:2]
    rotated: list[dict[str, Any]] = []
    unreadable: list[str] = []
    for row in found:
        try:
            rotated.append({key: row[0], column: current.rotate(row[1])})
        except Unreadable:
            unreadable.append(name(row))
    if rotated:  # by primary key: many rows in one statement
        session.execute(update(table), rotated)
    return len(rotated), unreadable


# -- a CRM's background password, with the address and account it was set for --

# The background password is stored sealed with the address and account it was set for, so
# that the connector sends it there and nowhere else, whatever later changes the address.
# Secrets stored before hold the bare password: they go to the address the organisation has.
_SEALED: Final = "mailfiler-background-password-v2\n"


@dataclass(frozen=True)
class BackgroundPassword:
    password: str
    url: str | None  # None: stored before passwords were sealed with their address
    account: str | None


def seal_background(url: str, account: str, password: str) -> str:
    sealed = json.dumps({"url": url, "account": account, "password": password})
    return encrypt(_SEALED + sealed)


def background_password(stored: str) -> BackgroundPassword:
    """The stored background password, with the address and account it was set for."""
    text = decrypt(stored)
    if not text.startswith(_SEALED):
        return BackgroundPassword(text, None, None)
    sealed = json.loads(text[len(_SEALED) :])
    return BackgroundPassword(str(sealed["password"]), str(sealed["url"]), str(sealed["account"]))
