"""Secrets kept at rest (an iMIS background account's password), encrypted with a key
from the environment, ``MAILFILER_SECRET_KEY``, that the database never holds.

Fernet (AES-128 in CBC mode with an HMAC-SHA256, from ``cryptography``): a
stolen copy of the database, without the key, gives no password away; a
changed ciphertext is refused, not decrypted into something else.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping

from cryptography.fernet import Fernet, InvalidToken

from mailfiler.errors import BadRequest, SystemFault

KEY_VARIABLE = "MAILFILER_SECRET_KEY"
MISSING = (
    f"{KEY_VARIABLE} is not set: an iMIS organisation's background password is stored "
    "encrypted with it. Set it to a long random value, the same for every server process "
    "(for example the output of: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
)


def _fernet(environ: Mapping[str, str] | None = None) -> Fernet:
    key = (os.environ if environ is None else environ).get(KEY_VARIABLE, "").strip()
    if not key:
        raise BadRequest(MISSING)
    if len(key) < 16:
        raise BadRequest(f"{KEY_VARIABLE} is too short: use 16 characters or more")
    # Any text of the administrator's: made into a Fernet key of the right length.
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest()))


def encrypt(secret: str, environ: Mapping[str, str] | None = None) -> str:
    return _fernet(environ).encrypt(secret.encode()).decode("ascii")


def decrypt(stored: str, environ: Mapping[str, str] | None = None) -> str:
    try:
        key = _fernet(environ)
    except BadRequest as error:
        raise SystemFault(str(error)) from error
    try:
        return key.decrypt(stored.encode("ascii")).decode()
    except (InvalidToken, ValueError) as error:
        raise SystemFault(
            f"the stored background password cannot be decrypted with this {KEY_VARIABLE}: "
            "it was changed since the password was set; an administrator must set the "
            "password again"
        ) from error
