"""The limits of the CRM that mailfiler honours, each with its reason.

They come from the product page ("Conditions and Caveats") and are the same
for every connector, so a record filed in the built-in CRM can later be moved
to iMIS unchanged.
"""

from __future__ import annotations

from typing import Final

# iMIS limits the email "To" field of a communication log entry to 100 characters.
TO_LINE_MAX: Final = 100
TO_LINE_REASON: Final = "iMIS holds at most 100 characters in an interaction's To field"
TO_LINE_REASON_SHORT: Final = "what iMIS holds"

# iMIS limits attachment file names to 50 characters.
ATTACHMENT_NAME_MAX: Final = 50
ATTACHMENT_NAME_REASON: Final = "iMIS holds attachment names of at most 50 characters"

# Empty attachments break the download on the iMIS staff site.
EMPTY_ATTACHMENT_REASON: Final = (
    "empty (0 bytes): not saved, because an empty file cannot be downloaded from the staff site"
)

# An extension longer than this is treated as part of the name when shortening,
# so "report.final-version-2" keeps a sensible stem.
MAX_KEPT_EXTENSION: Final = 10

# How deep MIME parts may nest before the rest is kept as an opaque file.
# Real mail nests 4-6 levels; hostile mail nests thousands to exhaust the stack.
MIME_DEPTH_MAX: Final = 40

# More parts than any real message has (a newsletter with its images has
# tens); reading 100 000 would cost seconds, so the rest are left out, noted.
PARTS_MAX: Final = 1_000

# A header section longer than this is not mail (RFC 5322 lines are short).
HEADER_SECTION_MAX: Final = 4 * 1024 * 1024

# An address line longer than this is read up to its last comma before the
# limit, and the reader says so: 256 KB is over 5 000 addresses, and reading
# more would let one header cost a second of CPU.
ADDRESS_LINE_MAX: Final = 256 * 1024


def size_in_words(size: int) -> str:
    """A limit in bytes as people read it: "20 MB" for 20 000 000, "150 MiB" for 150 x 2**20,
    the exact bytes otherwise (never a rounded figure that is not the limit)."""
    if size and size % 1_000_000 == 0:
        return f"{size // 1_000_000} MB"
    if size and size % 2**20 == 0:
        return f"{size // 2**20} MiB"
    return f"{size:,} bytes".replace(",", " ")
