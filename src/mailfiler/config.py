"""Settings, built when asked for (never at import) from arguments and the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mailfiler.clock import Clock, system_clock
from mailfiler.storage.database import normalise_url

DEFAULT_DATABASE = "sqlite:///mailfiler.db"
DEFAULT_MAX_MESSAGE_BYTES = 150 * 1024 * 1024


@dataclass(frozen=True)
class Settings:
    database_url: str
    blobs_dir: Path
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    # The address Outlook reaches the server at (for the add-in manifest);
    # None: the address each request came to.
    public_url: str | None = None
    # What time it is when records are saved; tests freeze it.
    clock: Clock = system_clock


def get_settings(
    database: str | None = None,
    blobs: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """``--db`` beats ``MAILFILER_DB`` beats ``./mailfiler.db``; ``--blobs`` likewise."""
    env = os.environ if environ is None else environ
    url = normalise_url(database or env.get("MAILFILER_DB") or DEFAULT_DATABASE)
    folder = blobs or env.get("MAILFILER_BLOBS") or str(default_blobs_dir(url))
    limit = int(env.get("MAILFILER_MAX_MESSAGE_BYTES") or DEFAULT_MAX_MESSAGE_BYTES)
    public = env.get("MAILFILER_PUBLIC_URL") or None
    return Settings(url, Path(folder), max_message_bytes=limit, public_url=public)


def default_blobs_dir(url: str) -> Path:
    """Beside a SQLite file ("x.db" -> "x-blobs/"); in the working folder otherwise."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and url != prefix + ":memory:":
        path = Path(url[len(prefix) :])
        return path.with_name(path.stem + "-blobs")
    return Path("mailfiler-blobs")
