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
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from sceau import KeyStatus
from sceau.atomic import atomic_write
from sceau.errors import (
    ConflictError,
    KeyCustodyError,
    NotFoundError,
    SceauError,
    ValidationError,
)
from sceau.timefmt import format_time, parse_time
from sceau_keys.x509 import create_ca_certificate, issue_signing_certificate, to_pem
from sceau_service import admin
from sceau_service.auth import SCOPES
from sceau_service.db import make_engine
from sceau_service.migrate import upgrade
from sceau_service.registry import KeyChange, Registry, require_policy
from sceau_service.settings import Settings
from sceau_service.store import ROLE_ROOT, KeyRow, Store, TenantRow

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
    p = sub.add_parser("create-ca", help="self-sign the tenant's X.509 CA certificate with "
                       "its root key (for standard C2PA manifests); writes PEM")
    p.add_argument("tenant")
    p.add_argument("--out", required=True, type=Path, help="file to write (not overwritten)")
    p.add_argument("--common-name", help="default: '<tenant name> C2PA CA'")
    p.add_argument("--days", type=int, default=3650)
    p = sub.add_parser("issue-cert", help="issue an X.509 certificate with the C2PA "
                       "claim-signing EKU for a signing key, from the tenant's CA; writes the "
                       "PEM chain (end-entity, then CA)")
    p.add_argument("tenant")
    p.add_argument("--ca", required=True, type=Path, help="the CA certificate (create-ca)")
    p.add_argument("--out", required=True, type=Path, help="file to write (not overwritten)")
    p.add_argument("--key", metavar="KEYID",
                   help="the signing key (default: the active one; write --key=KEYID)")
    p.add_argument("--common-name", help="default: '<tenant name> seal key <key id prefix>'")
    p.add_argument("--days", type=int, default=365)
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


def _root_key(store: Store, tenant: TenantRow) -> KeyRow:
    """The tenant's active root key: the key of its CA."""
    root = next((k for k in store.list_keys(tenant.id, role=ROLE_ROOT)
                 if k.status is KeyStatus.ACTIVE), None)
    if root is None:
        raise NotFoundError(f"tenant {tenant.slug} has no root key: run "
                            "'sceau-keys create-root-key' first")
    return root


def _root_custody(settings: Settings) -> Any:
    custody = admin.root_custody_for(settings)
    if custody is None:
        raise KeyCustodyError("no root key custody is configured here (SCEAU_ROOT_KEY_"
                              "PASSPHRASE or SCEAU_PKCS11_ROOT_TOKEN_LABEL)")
    return custody


def _read_certificate(path: Path) -> bytes:
    """One PEM or DER certificate from ``path`` (at most 64 KiB), as DER."""
    try:
        data = path.read_bytes()[:65537]
    except OSError as exc:
        raise ValidationError(f"--ca: {exc.strerror or exc}") from None
    if len(data) > 65536:
        raise ValidationError("--ca: larger than 64 KiB")
    try:
        cert = (x509.load_pem_x509_certificate(data) if data.lstrip().startswith(b"-----")
                else x509.load_der_x509_certificate(data))
    except ValueError:
        raise ValidationError("--ca: not an X.509 certificate (PEM or DER)") from None
    return cert.public_bytes(Encoding.DER)


def _write_new(path: Path, text: str) -> None:
    """Write ``text`` to a new file, atomically; an existing file is never replaced."""
    try:
        atomic_write(path, text.encode("ascii"), overwrite=False)
    except FileExistsError:
        raise ConflictError(f"{path} exists: not overwritten") from None
    except OSError as exc:
        raise ValidationError(f"{path}: {exc.strerror or exc}") from None


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
    elif cmd == "create-ca":
        root = _root_key(store, tenant)
        der = create_ca_certificate(_root_custody(settings), root.keyid,
                                    args.common_name or f"{tenant.name} C2PA CA",
                                    now=admin._now(), days=args.days, organization=tenant.name)
        _write_new(args.out, to_pem(der))
        print(args.out)
    elif cmd == "issue-cert":
        ca = _read_certificate(args.ca)
        root = _root_key(store, tenant)
        keyid = args.key or (store.active_keyid(tenant.id) or "")
        key = next((k for k in store.list_keys(tenant.id) if k.keyid == keyid), None)
        if key is None:
            raise NotFoundError(f"no signing key {keyid[:64]!r} for tenant {tenant.slug}")
        der = issue_signing_certificate(
            _root_custody(settings), root.keyid, ca, admin.custody_for(settings), key.keyid,
            args.common_name or f"{tenant.name} seal key {key.keyid[:8]}",
            now=admin._now(), days=args.days, organization=tenant.name)
        _write_new(args.out, to_pem(der, ca))
        print(args.out)
    elif cmd == "set-policy":
        registry.set_policy(tenant, require_policy(args.every_days, args.overlap_days))
        print(f"{tenant.slug}: rotate every {args.every_days} day(s), "
              f"overlap {args.overlap_days} day(s)")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
