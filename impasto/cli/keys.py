"""``impasto keys``: API keys for the REST API, on the data folder's database (or
``IMPASTO_DATABASE_URL``'s). A key is printed once, when it is made: only its hash is kept."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .extras import require


def register(sub: Any) -> None:
    keys: argparse.ArgumentParser = sub.add_parser(
        "keys",
        help="make, list and revoke API keys for the web app's REST API",
        description="API keys for `Authorization: Bearer <key>`. Each key owns the jobs it makes; an "
        "--admin key sees and moderates everyone's. Works on the database of --data-dir (default "
        "./data) unless IMPASTO_DATABASE_URL names another.",
    )
    keys.add_argument(
        "--data-dir", type=Path, default=None, help="the server's data folder (default: ./data)"
    )
    keys_sub = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    create = keys_sub.add_parser("create", help="make a key and print it (once)")
    create.add_argument("name", help="a name to know the key by (who or what uses it)")
    create.add_argument("--admin", action="store_true", help="a key that sees and moderates everything")
    create.set_defaults(handler=create_key)
    listing = keys_sub.add_parser("list", help="list keys (never their secrets)")
    listing.set_defaults(handler=list_keys)
    revoke = keys_sub.add_parser("revoke", help="revoke a key at once, by name or id")
    revoke.add_argument("key", metavar="NAME|ID", help="the key's name or id (see `impasto keys list`)")
    revoke.set_defaults(handler=revoke_key)


def _db(args: argparse.Namespace) -> Any:
    require("web", "keys")
    from ..service.config import Settings
    from ..service.storage.db import Database

    db = Database(Settings.from_env(data_dir=args.data_dir).db_url)
    db.migrate()
    return db


def create_key(args: argparse.Namespace) -> int:
    from ..service.identity import owners

    info, key = owners.create_key(_db(args), args.name, admin=args.admin)
    kind = "admin key" if info.admin else "key"
    print(f"Made {kind} {info.name!r} (id {info.id}). It is shown only now; keep it secret:")
    print(key)
    return 0


def list_keys(args: argparse.Namespace) -> int:
    from ..service.identity import owners

    rows = owners.list_keys(_db(args))
    if not rows:
        print("No keys yet: make one with `impasto keys create NAME`.")
    for k in rows:
        state = f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "active"
        admin = "admin" if k.admin else "-"
        print(f"{k.id}  {k.name:<24} {admin:<5}  made {k.created_at:%Y-%m-%d %H:%M}  {state}")
    return 0


def revoke_key(args: argparse.Namespace) -> int:
    from ..service.identity import owners

    info = owners.revoke_key(_db(args), args.key)
    print(f"Revoked key {info.name!r} (id {info.id}): requests with it now get 401.")
    return 0
