"""Who owns what: identities, API keys, the checks that keep one owner's jobs from another, and
share links.

An owner is a short string on every job and saved style:

- ``c:<random>`` a browser's anonymous identity (the web layer keeps it in a signed cookie);
- ``k:<key id>`` a REST client's API key (``impasto keys create``); an *admin* key sees everything;
- ``local`` the machine's own user: the CLI, and keyless scripts on 127.0.0.1 in the default mode.

Another owner's job is answered exactly like a missing one (:class:`~.jobs.JobNotFound`), so an id
says nothing about whether it exists. Keys are random 256-bit secrets; only their SHA-256 is stored
(a fast hash is enough for a key that cannot be guessed), so a copy of the database holds no key.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from ...errors import Conflict, JobNotFound, NotFound, OptionsError
from ..storage.db import Database
from ..storage.models import LOCAL_OWNER, PUBLIC_STYLES, ApiKey, Job, Share, utcnow

KEY_PREFIX = "imp_"
SECRET_FILE = "secret.key"


@dataclass(frozen=True)
class Owner:
    """Who is asking: the owner string rows carry, and whether they may see everything."""

    id: str
    admin: bool = False
    via: str = "cookie"  # "cookie", "key" or "local": how the request proved it

    def sees(self, owner: str) -> bool:
        return self.admin or owner == self.id


LOCAL = Owner(LOCAL_OWNER, admin=False, via="local")
CLI = Owner(LOCAL_OWNER, admin=True, via="local")  # the machine's own user at the command line


def browser_owner(identity: str) -> Owner:
    return Owner(f"c:{identity}", via="cookie")


def new_identity() -> str:
    return secrets.token_urlsafe(18)


# --- the signing secret -----------------------------------------------------------------------


def load_secret(configured: str | None, data_dir: Path) -> str:
    """``IMPASTO_SECRET_KEY`` when set, else the data folder's ``secret.key``, made once (mode 0600)."""
    if configured:
        if len(configured) < 16:
            raise OptionsError("IMPASTO_SECRET_KEY must be at least 16 characters (32 random bytes is good)")
        return configured
    path = data_dir / SECRET_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_text().strip()
        if len(secret) < 16:
            raise OptionsError(f"{path} is empty or too short; delete it to make a new one") from None
        return secret
    secret = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    return secret


# --- API keys ---------------------------------------------------------------------------------


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass(frozen=True)
class KeyInfo:
    """A key as listed: never the secret."""

    id: str
    name: str
    admin: bool
    created_at: datetime
    revoked_at: datetime | None


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(row.id, row.name, row.admin, row.created_at, row.revoked_at)


def create_key(db: Database, name: str, *, admin: bool = False) -> tuple[KeyInfo, str]:
    """A new key named ``name``; returns it with the secret, which is not stored and not shown again."""
    name = name.strip()
    if not name or len(name) > 60 or not name.isprintable():
        raise OptionsError("a key name needs 1–60 printable characters")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(name=name, digest=digest(key), admin=admin)
    try:
        with db.session() as s:
            s.add(row)
    except IntegrityError:
        raise Conflict(f"a key named {name!r} already exists") from None
    return _info(row), key


def list_keys(db: Database) -> list[KeyInfo]:
    with db.session() as s:
        return [_info(r) for r in s.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.name))]


def revoke_key(db: Database, name_or_id: str) -> KeyInfo:
    """Revoke a key by name or id (at once: every request looks the key up)."""
    with db.session() as s:
        row = s.scalars(select(ApiKey).where(or_(ApiKey.name == name_or_id, ApiKey.id == name_or_id))).first()
        if row is None:
            raise NotFound(f"no key named {name_or_id!r}")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
        return _info(row)


def key_owner(db: Database, key: str) -> Owner | None:
    """The owner a presented key stands for, or ``None`` if it is unknown or revoked."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    with db.session() as s:
        row = s.scalars(select(ApiKey).where(ApiKey.digest == digest(key))).first()
        if row is None or row.revoked_at is not None:
            return None
        return Owner(f"k:{row.id}", admin=row.admin, via="key")


# --- jobs -------------------------------------------------------------------------------------


def owned_job(db: Database, job_id: str, owner: Owner) -> Job:
    """The job, if ``owner`` may see it; another's job is :class:`JobNotFound`, like a missing one."""
    with db.session() as s:
        job = s.get(Job, job_id)
        if job is None or not owner.sees(job.owner):
            raise JobNotFound(job_id)
        return job


def owner_filter(owner: Owner) -> str | None:
    """The owner to filter listings by (``None``: everything, for an admin)."""
    return None if owner.admin else owner.id


def style_owner(owner: Owner) -> str:
    """Whose a style ``owner`` saves is: an admin's go to the public gallery, anyone else's are theirs."""
    return PUBLIC_STYLES if owner.admin else owner.id


# --- share links ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShareInfo:
    token: str
    job_id: str
    include_photo: bool
    created_at: datetime


def _share(row: Share) -> ShareInfo:
    return ShareInfo(row.token, row.job_id, row.include_photo, row.created_at)


def create_share(db: Database, job_id: str, owner: Owner, *, include_photo: bool) -> ShareInfo:
    """A new unguessable link (192 random bits) to the job's painting."""
    job = owned_job(db, job_id, owner)
    if job.result_sha is None:
        raise Conflict("only a finished painting can be shared")
    row = Share(token=secrets.token_urlsafe(24), job_id=job.id, include_photo=include_photo)
    with db.session() as s:
        s.add(row)
    return _share(row)


def list_shares(db: Database, job_id: str, owner: Owner) -> list[ShareInfo]:
    owned_job(db, job_id, owner)
    with db.session() as s:
        rows = s.scalars(select(Share).where(Share.job_id == job_id).order_by(Share.created_at))
        return [_share(r) for r in rows]


def revoke_share(db: Database, job_id: str, token: str, owner: Owner) -> None:
    owned_job(db, job_id, owner)
    with db.session() as s:
        row = s.get(Share, token)
        if row is None or row.job_id != job_id:
            raise NotFound("no such share link")
        s.delete(row)


def shared_job(db: Database, token: str) -> tuple[Job, ShareInfo]:
    """The job a share link shows; :class:`NotFound` for an unknown or revoked link."""
    if not token or len(token) > 64:
        raise NotFound("no such share link")
    with db.session() as s:
        row = s.get(Share, token)
        job = s.get(Job, row.job_id) if row is not None else None
        if row is None or job is None or job.result_sha is None:
            raise NotFound("no such share link")
        return job, _share(row)
