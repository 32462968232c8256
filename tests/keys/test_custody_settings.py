"""``admin.custody_for``: the backend and role from settings, and the service sealing with
keys on a SoftHSM2 token in-process (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from sceau import KeyRing, verify_seal
from sceau.errors import KeyCustodyError
from sceau.verify import ContentDigest
from sceau_keys import EncryptedFileCustody
from sceau_keys.pkcs11 import Pkcs11Custody
from sceau_service import Settings, create_app
from sceau_service.admin import create_key, create_token, custody_for, ensure_tenant
from sceau_service.db import make_engine
from sceau_service.migrate import upgrade
from sceau_service.store import Store

from ..softhsm import SoftHsm

PASS = SecretStr("settings-test-passphrase")


def _pkcs11_settings(hsm: SoftHsm, tmp_path: Path, **extra: object) -> Settings:
    fields: dict[str, object] = {"data_dir": tmp_path, "custody": "pkcs11",
                                 "pkcs11_module": hsm.module,
                                 "pkcs11_token_label": "sceau-test",
                                 "pkcs11_pin": SecretStr(hsm.pin), **extra}
    return Settings(**fields)  # type: ignore[arg-type]


def test_file_custody_and_its_root_role(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, key_passphrase=PASS)
    signing = custody_for(settings)
    assert isinstance(signing, EncryptedFileCustody)
    assert signing.directory == tmp_path / "keys"
    root = custody_for(settings, role="root")
    assert isinstance(root, EncryptedFileCustody)
    assert root.directory == tmp_path / "root-keys"
    key = root.generate()
    with pytest.raises(KeyCustodyError, match="no key file"):
        signing.signer(key.keyid)
    # A root passphrase of its own: the signing passphrase no longer opens root keys.
    own = Settings(data_dir=tmp_path, key_passphrase=PASS,
                   root_key_passphrase=SecretStr("another-root-passphrase"))
    with pytest.raises(KeyCustodyError, match="cannot decrypt"):
        custody_for(own, role="root").signer(key.keyid)
    with pytest.raises(KeyCustodyError, match="SCEAU_KEY_PASSPHRASE"):
        custody_for(Settings(data_dir=tmp_path))


def test_pkcs11_custody_and_its_root_role(softhsm: SoftHsm, tmp_path: Path) -> None:
    settings = _pkcs11_settings(softhsm, tmp_path)
    signing = custody_for(settings)
    assert isinstance(signing, Pkcs11Custody)
    root = custody_for(settings, role="root")
    key = root.generate()
    with pytest.raises(KeyCustodyError, match="no key"):
        signing.signer(key.keyid)
    on_token = custody_for(_pkcs11_settings(softhsm, tmp_path,
                                            pkcs11_root_token_label="sceau-root"), "root")
    assert isinstance(on_token, Pkcs11Custody) and on_token.token_label == "sceau-root"
    with pytest.raises(KeyCustodyError, match="no key"):
        on_token.signer(key.keyid)
    with pytest.raises(KeyCustodyError, match="SCEAU_PKCS11_PIN"):
        custody_for(Settings(data_dir=tmp_path, custody="pkcs11"))
    with pytest.raises(KeyCustodyError, match="module not found"):
        custody_for(_pkcs11_settings(softhsm, tmp_path,
                                     pkcs11_module=str(tmp_path / "missing.so")))


def test_service_seals_with_token_keys(softhsm: SoftHsm, database_url: str,
                                       tmp_path: Path) -> None:
    settings = _pkcs11_settings(softhsm, tmp_path, database_url=database_url,
                                token_cache_seconds=0, keyring_cache_seconds=0, log=False)
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        store = Store(engine)
        tenant = ensure_tenant(store, f"hsm-{secrets.token_hex(4)}")
        keyid = create_key(store, custody_for(settings), tenant)
        token = create_token(store, tenant, {"sign", "read"})
        row = next(k for k in store.list_keys(tenant.id) if k.keyid == keyid)
        assert row.custody == "pkcs11"
    finally:
        engine.dispose()
    data = secrets.token_bytes(40)
    digest = ContentDigest("sha256", hashlib.sha256(data).digest(), len(data))
    with TestClient(create_app(settings)) as client:
        r = client.post("/v1/seals", headers={"authorization": f"Bearer {token}"},
                        json={"hash": digest.digest.hex(), "size": digest.size,
                              "media_type": "image/png"})
        assert r.status_code == 201, r.text
        envelope = json.dumps(r.json()["seal"])
        ring = KeyRing.from_jwks(client.get("/.well-known/jwks.json").json())
    verdict = verify_seal(envelope, ring, now=datetime.now(UTC), content=digest)
    assert verdict.ok, verdict
    assert ring[keyid].public_key == Pkcs11Custody(
        softhsm.module, "sceau-test", softhsm.pin).public_key(keyid)
