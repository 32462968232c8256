"""``sceau-keys``: the operator's key registry CLI (tenants, tokens, keys, rotation).

It works on the database and key custody the service is configured with (the same
``SCEAU_*`` environment), through :mod:`sceau_service.admin` and
:class:`sceau_service.registry.Registry`: what it does is exactly what the admin endpoints
do.  Exit codes: 0 done; 1 the operation was refused or failed (``error: <code>: <detail>``
on stderr, the code as in docs/API.md); 2 bad command line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sceau.errors import SceauError, ValidationError
from sceau.timefmt import format_time, parse_time
from sceau_service import admin
from sceau_service.auth import SCOPES
from sceau_service.db import make_engine
from sceau_service.migrate import upgrade
from sceau_service.registry import KeyChange, Registry, require_policy
from sceau_service.settings import Settings
from sceau_service.store import KeyRow, Store

__all__ = ["main", "run_command"]

EXIT_OK = 0
EXIT_FAILED = 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sceau-keys", description="Manage Sceau tenants, API tokens and signing keys.",
        epilog="Exit codes: 0 done, 1 refused or failed (error code on stderr), 2 usage.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("create-tenant", help="add a tenant; prints its slug")
    p.add_argument("slug")
    p.add_argument("--name")
    p = sub.add_parser("create-token", help="issue an API token; prints it (once)")
    p.add_argument("tenant")
    p.add_argument("--scope", action="append", dest="scopes", choices=sorted(SCOPES),
                   help="sign, read or keys:admin (repeat; default sign)")
    p.add_argument("--label", default="")
    p = sub.add_parser("create-key", help="generate a signing key and make it active "
                       "(a rotation if there is one); prints its id")
    p.add_argument("tenant")
    p.add_argument("--pending", action="store_true",
                   help="publish it as pending instead (activated by a later rotate)")
    p = sub.add_parser("create-root-key", help="generate the tenant's offline root key "
                       "(root custody); prints its id")
    p.add_argument("tenant")
    p = sub.add_parser("rotate", help="retire the active key, activate another; prints the "
                       "new active key's id")
    p.add_argument("tenant")
    p.add_argument("--to", metavar="KEYID",
                   help="the pending key to activate (write --to=KEYID: ids may start with -)")
    p.add_argument("--new", action="store_true",
                   help="generate a key even if one is pending")
    p = sub.add_parser("revoke", help="revoke a signing key; prints the active key's id "
                       "(key ids may start with '-': put them after '--')")
    p.add_argument("tenant")
    p.add_argument("keyid")
    since = p.add_mutually_exclusive_group(required=True)
    since.add_argument("--compromised-since", metavar="TIME",
                       help="RFC 3339 UTC, e.g. 2026-11-20T08:00:00Z: seals from then fail")
    since.add_argument("--all", action="store_true",
                       help="no compromise time: every seal by the key fails")
    p = sub.add_parser("list", help="list keys (one tenant's, or every tenant's)")
    p.add_argument("tenant", nargs="?")
    p.add_argument("--json", action="store_true", help="JSON output")
    p = sub.add_parser("set-policy", help="rotate a tenant's key every N days")
    p.add_argument("tenant")
    p.add_argument("--every-days", type=int, required=True)
    p.add_argument("--overlap-days", type=int, default=0)
    p = sub.add_parser("rotate-due", help="run the scheduled rotations that are due; prints "
                       "'<tenant> <new key id>' per rotation (exit 1 if any failed)")
    p.add_argument("--tenant", action="append", help="only this tenant (repeat)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        return _run(args, Settings())
    except SceauError as exc:
        print(f"error: {exc.code}: {exc.detail}", file=sys.stderr)
        return EXIT_FAILED


def _key_json(row: KeyRow) -> dict[str, Any]:
    def t(when: datetime | None) -> str | None:
        return None if when is None else format_time(when)

    return {"tenant": row.tenant_slug, "kid": row.keyid, "role": row.role,
            "status": row.status.value, "custody": row.custody,
            "created": format_time(row.created_at), "not_before": t(row.not_before),
            "not_after": t(row.not_after), "compromised_since": t(row.compromised_since)}


def _print_change(change: KeyChange, key: str | None) -> None:
    print(key or "")
    version = "none yet" if change.version is None else str(change.version)
    print(f"{change.tenant}: active key {change.outgoing or '-'} -> {change.incoming or '-'}"
          f" (key statement {version})", file=sys.stderr)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    engine = make_engine(settings.resolved_database_url)
    try:
        upgrade(engine)
        store = Store(engine)
        return run_command(args, settings, store)
    finally:
        engine.dispose()


def run_command(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    """Run one parsed command on ``store`` (``sceau-service create-key`` comes here too);
    raises :class:`SceauError` on failure."""
    cmd = args.command
    if cmd == "create-tenant":
        tenant = store.create_tenant(args.slug, args.name or args.slug, admin._now())
        print(tenant.slug)
        return EXIT_OK
    if cmd == "create-token":
        tenant = store.tenant_by_slug(args.tenant)
        print(admin.create_token(store, tenant, set(args.scopes or ["sign"]), args.label))
        return EXIT_OK
    if cmd == "list":
        tenant_id = None if args.tenant is None else store.tenant_by_slug(args.tenant).id
        rows = store.list_keys(tenant_id, role=None)
        if args.json:
            print(json.dumps([_key_json(r) for r in rows], indent=2))
        else:
            for r in rows:
                d = _key_json(r)
                print(" ".join(str(d[k] or "-") for k in (
                    "tenant", "kid", "role", "status", "custody", "not_before", "not_after",
                    "compromised_since")))
        return EXIT_OK
    registry = Registry(store, admin.custody_for(settings),
                        root_custody=admin.root_custody_for(settings))
    if cmd == "rotate-due":
        due = registry.rotate_due(args.tenant or None)
        for change in due.rotated:
            print(f"{change.tenant} {change.incoming}")
        for slug, exc in due.failed:
            print(f"error: {slug}: {exc.code}: {exc.detail}", file=sys.stderr)
        return EXIT_FAILED if due.failed else EXIT_OK
    tenant = store.tenant_by_slug(args.tenant)
    if cmd == "create-key":
        change = (registry.create_pending_key(tenant) if getattr(args, "pending", False)
                  else registry.rotate(tenant, new=True))
        _print_change(change, change.keyid)
    elif cmd == "create-root-key":
        change = registry.create_root_key(tenant)
        _print_change(change, change.keyid)
    elif cmd == "rotate":
        change = registry.rotate(tenant, to=args.to, new=args.new)
        _print_change(change, change.incoming)
    elif cmd == "revoke":
        since = None
        if args.compromised_since is not None:
            try:
                since = parse_time(args.compromised_since)
            except ValueError as exc:
                raise ValidationError(f"--compromised-since: {exc}") from None
        change = registry.revoke(tenant, args.keyid, since)
        _print_change(change, change.incoming)
    elif cmd == "set-policy":
        registry.set_policy(tenant, require_policy(args.every_days, args.overlap_days))
        print(f"{tenant.slug}: rotate every {args.every_days} day(s), "
              f"overlap {args.overlap_days} day(s)")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
