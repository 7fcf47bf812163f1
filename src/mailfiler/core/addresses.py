"""How two email addresses are compared.

The product matches "the email address in Outlook" against the CRM; we
compare the whole address, case-insensitively (RFC 5321 lets the local part be
case-sensitive, but no mail system in use treats it so, and a CRM holding
"Ann@Example.org" means the same person), with internationalised domains
turned into their ASCII form (RFC 5890) so "ann@bücher.example" and
"ann@xn--bcher-kva.example" are one address.
"""

from __future__ import annotations

import re
import unicodedata
from contextlib import suppress
from functools import lru_cache

_SPACE = re.compile(r"\s")  # the characters str.isspace() calls white space


# Cached: reading one message compares each of its addresses many times.
@lru_cache(maxsize=8192)
def address_key(address: str) -> str:
    """The comparable form of an address: trimmed, lower-case, domain in ASCII."""
    text = unicodedata.normalize("NFC", address.strip().strip("<>").strip())
    local, at, domain = text.rpartition("@")
    if not at:
        return text.lower()
    return local.lower() + "@" + _ascii_domain(domain)


def _ascii_domain(domain: str) -> str:
    domain = domain.strip().rstrip(".").lower()
    if domain.isascii():
        return domain
    try:
        # The stdlib codec implements IDNA 2003 (nameprep + punycode): enough to
        # make the Unicode and the xn-- spelling of a domain compare equal.
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain


# RFC 5322 §3.4.1, loosely (letters outside ASCII allowed, RFC 6532): a local
# part is a quoted string or has no special characters; a domain is a domain
# literal in brackets or has none. "barry@[ython.org" is no address.
_LOCAL = re.compile(r'"(?:[^"\\]|\\.)*"|[^\[\]\\<>(),;:"@]+')
_DOMAIN = re.compile(r'\[[^\[\]\\]*\]|[^\[\]\\<>(),;:"@]+')


def looks_like_address(text: str) -> bool:
    """True for something that can be an addr-spec: local@domain, no spaces."""
    stripped = text.strip()
    local, at, domain = stripped.rpartition("@")
    return (
        bool(at and local and domain)
        and _SPACE.search(stripped) is None
        and _LOCAL.fullmatch(local) is not None
        and _DOMAIN.fullmatch(domain) is not None
    )


def written_forms(address: str) -> set[str]:
    """The spellings a CRM may hold an address in: as written, its key, and with its
    domain in Unicode ("carla@bücher.example" for "carla@xn--bcher-kva.example")."""
    written = address.strip().strip("<>").strip()
    forms = {written, address_key(written)}
    local, at, domain = written.rpartition("@")
    if at and "xn--" in domain.lower():
        with suppress(UnicodeError):
            forms.add(local + "@" + domain.lower().encode("ascii").decode("idna"))
    return {form for form in forms if form}
