"""mailfiler's own database (whichever CRM an organisation uses): tables, migrations, blobs.

What others use: ``Database`` (an engine and its units of work), ``BlobStore`` (file
contents by SHA-256, in a folder or the database), the tables in ``tables``, and the filing
ledger in ``ledger``.
"""

from mailfiler.storage.blobs import BlobStore, blob_store, sha256_of
from mailfiler.storage.database import Database

__all__ = ["BlobStore", "Database", "blob_store", "sha256_of"]
