"""Operator actions shared by the CLI and tests: tenants, keys, tokens, dev bootstrap."""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import SecretStr

from sceau import KeyStatus
from sceau.atomic import atomic_write
from sceau.errors import KeyCustodyError, NotFoundError
from sceau_keys import EncryptedFileCustody
from sceau_keys.pkcs11 import Pkcs11Custody
from sceau_service.auth import SCOPES, hash_token, new_token
from sceau_service.db import make_engine
from sceau_service.migrate import upgrade
from sceau_service.registry import Registry
from sceau_service.settings import Settings
from sceau_service.store import Store, TenantRow
from sceau_service.tlog import LogKeyRow, TransparencyLog

__all__ = ["DevBootstrap", "bootstrap_dev", "create_key", "create_log_key", "create_token",
           "custody_for", "ensure_log_key", "ensure_tenant", "root_custody_for"]

DEV_TENANT = "dev"


def _now() -> datetime:
    return datetime.now(UTC)


#: A configured custody backend (both satisfy :class:`sceau_keys.Custody`, and their
#: signers carry ``public_key``).
AnyCustody = EncryptedFileCustody | Pkcs11Custody


def custody_for(settings: Settings, role: Literal["signing", "root"] = "signing"
                ) -> AnyCustody:
    """The custody configured by ``settings`` (SCEAU_CUSTODY) for signing keys (and the
    log's key) or, with ``role="root"``, for tenant root keys.

    ``file``: encrypted files in ``data_dir/keys`` (root: ``data_dir/root-keys``, with
    SCEAU_ROOT_KEY_PASSPHRASE or else SCEAU_KEY_PASSPHRASE).  ``pkcs11``: the token
    SCEAU_PKCS11_TOKEN_LABEL (root: SCEAU_PKCS11_ROOT_TOKEN_LABEL, or the same token with
    root keys labelled ``root/<keyid>``), PIN SCEAU_PKCS11_PIN.
    """
    if settings.custody == "pkcs11":
        if settings.pkcs11_pin is None:
            raise KeyCustodyError("set SCEAU_PKCS11_PIN to use the PKCS#11 custody")
        token = settings.pkcs11_token_label
        if role == "root" and settings.pkcs11_root_token_label:
            token = settings.pkcs11_root_token_label
        return Pkcs11Custody(settings.pkcs11_module, token,
                             settings.pkcs11_pin.get_secret_value(),
                             role="root" if role == "root" else "",
                             sign_processes=settings.pkcs11_sign_processes)
    passphrase = settings.key_passphrase
    if role == "root":
        passphrase = settings.root_key_passphrase or passphrase
    if passphrase is None:
        raise KeyCustodyError("set SCEAU_KEY_PASSPHRASE to create or use signing keys")
    return EncryptedFileCustody(settings.root_keys_dir if role == "root" else settings.keys_dir,
                                passphrase.get_secret_value().encode())


def root_custody_for(settings: Settings) -> AnyCustody | None:
    """The custody of tenants' root keys, or None when none is configured here (root keys
    are meant to stay offline: changes that need one then fail with ``key_unavailable``)."""
    try:
        return custody_for(settings, "root")
    except KeyCustodyError:
        return None


def ensure_tenant(store: Store, slug: str, name: str | None = None) -> TenantRow:
    """The tenant ``slug``, created if missing."""
    try:
        return store.tenant_by_slug(slug)
    except NotFoundError:
        return store.create_tenant(slug, name or slug, _now())


def create_key(store: Store, custody: AnyCustody, tenant: TenantRow) -> str:
    """Generate a key in custody and make it the tenant's active key (a rotation when it
    has one: the key statement is signed by both, sceau_service.registry); returns its id."""
    return Registry(store, custody).rotate(tenant, new=True).keyid


def create_log_key(store: Store, custody: AnyCustody,
                   origin: str | None = None) -> LogKeyRow:
    """Generate a transparency log key and make it the log's active key: the first one
    creates the log (``origin``, or a default), a later one rotates the log's key."""
    return TransparencyLog(store, custody, _now).create_key(origin)


def ensure_log_key(store: Store, custody: AnyCustody,
                   origin: str | None = None) -> str:
    """The log's active key id: the log is created when missing, and gets a new key when
    this custody does not hold the active one (a data dir joining an existing database)."""
    return TransparencyLog(store, custody, _now).ensure_key(origin)


def create_token(store: Store, tenant: TenantRow, scopes: set[str], label: str = "") -> str:
    """Issue a token; only its hash is stored.  The token is returned once."""
    unknown = scopes - SCOPES
    if unknown:
        raise ValueError(f"unknown scope(s): {sorted(unknown)}")
    token = new_token()
    store.add_token(tenant.id, hash_token(token), scopes, label, _now())
    return token


class DevBootstrap:
    """What :func:`bootstrap_dev` set up."""

    def __init__(self, settings: Settings, token: str, keyid: str) -> None:
        self.settings = settings
        self.token = token
        self.keyid = keyid


def bootstrap_dev(settings: Settings) -> DevBootstrap:
    """Prepare a laptop data directory: passphrase, database, tenant ``dev``, its key, the
    transparency log's key, and a token with the ``sign`` scope (reused across runs while
    it is valid).

    The dev passphrase is generated into ``<data_dir>/dev-passphrase`` (0600) only when
    SCEAU_KEY_PASSPHRASE is not set; production always sets it.
    """
    data = settings.data_dir
    data.mkdir(parents=True, exist_ok=True, mode=0o700)
    if settings.key_passphrase is None:
        pass_file = data / "dev-passphrase"
        if not pass_file.exists():
            atomic_write(pass_file, secrets.token_urlsafe(32).encode(), mode=0o600)
        settings = settings.model_copy(
            update={"key_passphrase": SecretStr(pass_file.read_text().strip())})
    engine = make_engine(settings.resolved_database_url)
    try:
        upgrade(engine)
        store = Store(engine)
        tenant = ensure_tenant(store, DEV_TENANT, "Development tenant")
        active = [k for k in store.list_keys()
                  if k.tenant_id == tenant.id and k.status is KeyStatus.ACTIVE]
        custody = custody_for(settings)
        keyid = active[0].keyid if active else create_key(store, custody, tenant)
        ensure_log_key(store, custody, settings.log_origin)
        token_file = data / "dev-token"
        token = _read_valid_token(store, token_file)
        if token is None:
            token = create_token(store, tenant, {"sign", "read"}, "dev")
            atomic_write(token_file, (token + "\n").encode(), mode=0o600)
    finally:
        engine.dispose()
    return DevBootstrap(settings, token, keyid)


def _read_valid_token(store: Store, path: Path) -> str | None:
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        return None
    if not token.isascii():
        return None
    row = store.token_by_hash(hash_token(token))
    return token if row is not None and "sign" in row.scopes else None


def env_flag(name: str) -> bool:
    """True when the environment variable is set to 1/true/yes."""
    return os.environ.get(name, "").lower() in ("1", "true", "yes")
