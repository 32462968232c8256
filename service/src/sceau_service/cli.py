"""``sceau-service``: run the service and do operator tasks."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uvicorn

from sceau.errors import SceauError
from sceau_service import admin, keys_cli
from sceau_service.app import create_app
from sceau_service.db import make_engine
from sceau_service.migrate import upgrade
from sceau_service.settings import Settings
from sceau_service.store import Store
from sceau_service.timeouts import HeaderTimeoutH11Protocol, HeaderTimeoutHttpToolsProtocol
from sceau_service.tlog import TransparencyLog

__all__ = ["main"]


def _serve(settings: Settings, host: str, port: int, workers: int) -> None:
    # Slow and hostile clients (docs/DECISIONS.md): request heads within header_timeout
    # seconds (408 and close), idle keep-alive connections closed after
    # keep_alive_timeout, at most limit_concurrency connections + tasks (503 beyond), and
    # request heads of at most 16 KiB (h11's limit; httptools, the default, has its own).
    HeaderTimeoutHttpToolsProtocol.header_timeout = settings.header_timeout
    HeaderTimeoutH11Protocol.header_timeout = settings.header_timeout
    interval = settings.effective_switch_interval_ms()
    if interval is not None:
        # A thread coming back from a long call that released the GIL (a PKCS#11 C_Sign,
        # ~270 µs on SoftHSM2) waits up to the switch interval for a busy event loop to
        # hand the GIL back; 5 ms (Python's default) starves the signing thread.
        sys.setswitchinterval(interval / 1000)
    options: dict[str, Any] = {
        "host": host, "port": port, "access_log": False, "log_level": "warning",
        "http": HeaderTimeoutHttpToolsProtocol,
        "timeout_keep_alive": settings.keep_alive_timeout,
        "limit_concurrency": settings.limit_concurrency,
        "h11_max_incomplete_event_size": 16 << 10,
    }
    if workers > 1:
        # Each worker builds its own app (and reads header_timeout) from the environment.
        if settings.rate_limit is not None:
            os.environ["SCEAU_RATE_LIMIT"] = "true" if settings.rate_limit else "false"
        uvicorn.run("sceau_service.asgi:create", factory=True, workers=workers, **options)
    else:
        uvicorn.run(create_app(settings), **options)


def _sceau_command() -> str:
    """How to run the ``sceau`` CLI installed next to this interpreter, as typed from here."""
    exe = Path(sys.executable).parent / "sceau"
    try:
        return str(exe.relative_to(Path.cwd()))
    except ValueError:
        return "sceau" if shutil.which("sceau") == str(exe) else str(exe)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    parser = argparse.ArgumentParser(prog="sceau-service", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_ in (("serve", "run the service"),
                        ("dev", "set up a dev data dir (key, tenant, token) and serve")):
        p = sub.add_parser(name, help=help_)
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=8000)
        p.add_argument("--workers", type=int, default=1)
    sub.add_parser("migrate", help="apply database migrations")
    p = sub.add_parser("create-tenant", help="add a tenant")
    p.add_argument("slug")
    p.add_argument("--name")
    p = sub.add_parser("create-key", help="generate a tenant's new active signing key")
    p.add_argument("tenant")
    p = sub.add_parser("create-log-key",
                       help="create the transparency log (first time) or rotate its key; "
                            "prints the log's verifier key")
    p.add_argument("--origin", help="the log's name, when the log is created "
                   "(default: SCEAU_LOG_ORIGIN, else sceau.local/log-<key id prefix>)")
    p = sub.add_parser("create-token", help="issue an API token (printed once)")
    p.add_argument("tenant")
    p.add_argument("--scope", action="append", default=[], dest="scopes")
    p.add_argument("--label", default="")
    args = parser.parse_args(argv)

    settings = Settings()
    try:
        return _run(args, settings)
    except SceauError as exc:
        print(f"error: {exc.code}: {exc.detail}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "serve":
        if settings.rate_limit is None:  # on by default in production, off with 'dev'
            settings = settings.model_copy(update={"rate_limit": True})
        _serve(settings, args.host, args.port, args.workers)
        return 0
    if args.command == "dev":
        boot = admin.bootstrap_dev(settings)
        url = f"http://{args.host}:{args.port}"
        print(f"Sceau dev service: {url}   (API docs: {url}/docs)")
        print(f"dev token (scope sign): {boot.token}")
        print(f"  saved in {settings.data_dir / 'dev-token'}; signing key {boot.keyid}")
        print(f"  try: SCEAU_SERVER={url} SCEAU_TOKEN=$(cat {settings.data_dir / 'dev-token'}) "
              f"{_sceau_command()} sign photo.jpg", flush=True)
        _serve(boot.settings, args.host, args.port, args.workers)
        return 0
    engine = make_engine(settings.resolved_database_url)
    try:
        upgrade(engine)
        store = Store(engine)
        if args.command == "migrate":
            print("database is at the latest schema")
        elif args.command == "create-tenant":
            tenant = store.create_tenant(args.slug, args.name or args.slug,
                                         admin._now())
            print(f"tenant {tenant.slug} created")
        elif args.command == "create-key":  # the registry's command (root custody too)
            keys_cli.run_command(args, settings, store)
        elif args.command == "create-log-key":
            row = admin.create_log_key(store, admin.custody_for(settings),
                                       args.origin or settings.log_origin)
            keys = TransparencyLog(store, None, admin._now).verifier_keys()
            print(next(k.vkey() for k in keys if k.public_key == row.public_key))
        elif args.command == "create-token":
            tenant = store.tenant_by_slug(args.tenant)
            print(admin.create_token(store, tenant, set(args.scopes or ["sign"]), args.label))
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
