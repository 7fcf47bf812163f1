"""Settings, built when asked for (never at import) from arguments and the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mailfiler.clock import Clock, system_clock
from mailfiler.errors import BadRequest

DEFAULT_DATABASE = "sqlite:///mailfiler.db"
DEFAULT_MAX_MESSAGE_BYTES = 150 * 1024 * 1024
DEFAULT_CRM_PATIENCE = 300.0  # seconds: ASI's own client waits up to 5 minutes for iMIS
# Room for a hundred 5 MB messages a user a day, and still a few at the size limit.
DEFAULT_UPLOAD_QUOTA_BYTES = 500_000_000


def normalise_url(url: str) -> str:
    """Accept a plain file path for SQLite, and postgresql:// meaning psycopg 3."""
    if "://" not in url:
        return f"sqlite:///{url}"
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


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
    # MAILFILER_ALLOW_LOCAL_CRM=1: a CRM site may be at a loopback, private or link-local
    # address, and at a loopback one over plain http:// (the tests' stand-in sites). Off in
    # production: an organisation's admin could otherwise aim the server at its own network.
    allow_local_crm: bool = False
    # MAILFILER_CRM_PATIENCE: how long, in all, a bulk run (mailfiler file) waits for a
    # throttled or unreachable CRM per message before it goes on without that message.
    crm_patience: float = DEFAULT_CRM_PATIENCE
    # MAILFILER_UPLOAD_QUOTA_BYTES: what one user may have read in the last day and kept
    # for saving (uploads.Incoming), arriving messages included; one user must not fill the disk.
    upload_quota_bytes: int = DEFAULT_UPLOAD_QUOTA_BYTES
    # MAILFILER_FILES_IN: where attachment contents and messages waiting between review and
    # save live: "database" (PostgreSQL's default: servers on several machines share
    # nothing but the database) or "folder" (SQLite's: ``blobs_dir``, beside its file).
    # None: by the database (``default_files_in``).
    files_in: str | None = None

    @property
    def files_in_database(self) -> bool:
        return (self.files_in or default_files_in(self.database_url)) == "database"


def get_settings(
    database: str | None = None,
    blobs: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """``--db`` beats ``MAILFILER_DB`` beats ``./mailfiler.db``; ``--blobs`` likewise."""
    env = os.environ if environ is None else environ
    url = normalise_url(database or env.get("MAILFILER_DB") or DEFAULT_DATABASE)
    folder = blobs or env.get("MAILFILER_BLOBS") or str(default_blobs_dir(url))
    limit = int(_number(env, "MAILFILER_MAX_MESSAGE_BYTES", DEFAULT_MAX_MESSAGE_BYTES, 1))
    public = env.get("MAILFILER_PUBLIC_URL") or None
    allow_local = env.get("MAILFILER_ALLOW_LOCAL_CRM", "").strip().lower() in ("1", "true", "yes")
    patience = _number(env, "MAILFILER_CRM_PATIENCE", DEFAULT_CRM_PATIENCE, 0)
    quota = int(_number(env, "MAILFILER_UPLOAD_QUOTA_BYTES", DEFAULT_UPLOAD_QUOTA_BYTES, 1))
    files_in = env.get("MAILFILER_FILES_IN", "").strip().lower() or None
    if files_in not in (None, "database", "folder"):
        raise BadRequest(f"MAILFILER_FILES_IN must be database or folder (it is {files_in!r:.40})")
    return Settings(
        url, Path(folder), max_message_bytes=limit, public_url=public,
        allow_local_crm=allow_local, crm_patience=patience, upload_quota_bytes=quota,
        files_in=files_in,
    )  # fmt: skip


def default_files_in(url: str) -> str:
    """PostgreSQL keeps files in the database (any server reaches it); SQLite beside its file."""
    return "database" if url.startswith("postgresql") else "folder"


def _number(env: Mapping[str, str], name: str, default: float, least: float) -> float:
    """A number from the environment, or ``BadRequest`` saying which setting is wrong."""
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not least <= value < float("inf"):  # NaN fails this too
        raise BadRequest(f"{name} must be a number, {least:g} or more (it is {text[:40]!r})")
    return value


def default_blobs_dir(url: str) -> Path:
    """Beside a SQLite file ("x.db" -> "x-blobs/"); in the working folder otherwise."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and url != prefix + ":memory:":
        path = Path(url[len(prefix) :])
        return path.with_name(path.stem + "-blobs")
    return Path("mailfiler-blobs")
