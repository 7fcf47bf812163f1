"""What a contact search compares: text folded so that what the screen shows finds it.

"Angstrom" finds "Ångström", "carla@bücher.example" finds the contact whose
address is held as "carla@xn--bcher-kva.example" (and the other way), and
case never matters. A contact's searchable text holds its name, its
organization and each of its addresses in every spelling (see
``addresses.written_forms``), folded the same way as the query.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from mailfiler.core.addresses import written_forms

# Letters that carry their "accent" inside (no combining mark to remove), read as
# a person who types without them would type them.
_PLAIN_LETTERS = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "đ": "d", "ł": "l", "þ": "th",
                                "ð": "d", "ı": "i"})  # fmt: skip


def fold(text: str) -> str:
    """Lower case, accents removed (NFKD without combining marks), spaces collapsed."""
    if text.isascii():  # most names and addresses: nothing to decompose (an import's hot path)
        return " ".join(text.lower().split())
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.translate(_PLAIN_LETTERS).split())


def searchable(full_name: str, organization: str, emails: Iterable[str]) -> str:
    """A contact's text for searching: one line per thing that can be searched for."""
    parts = [full_name, organization]
    for email in emails:
        parts.extend(sorted(written_forms(email)))
    return "\n".join(fold(part) for part in parts if part.strip())


def query_forms(query: str) -> set[str]:
    """The folded spellings of what was typed (an address in each of its forms)."""
    text = query.strip()
    forms = {fold(text)}
    if "@" in text:
        forms |= {fold(form) for form in written_forms(text)}
    return {form for form in forms if form}


_WORD = re.compile(r"[^\W_]+")


def distinctive(folded: str) -> str:
    """The part of a query most likely to narrow a search: its word with the most digits,
    else its longest (a whole query shorter than three letters is kept whole)."""
    words = _WORD.findall(folded)
    if not words:
        return folded
    best = max(words, key=lambda w: (sum(c.isdigit() for c in w), len(w)))
    return best if len(best) >= 3 else folded
