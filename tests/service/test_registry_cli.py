"""``sceau-keys``: the operator CLI on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from sceau.keyhistory import read_statement
from sceau_service import admin
from sceau_service.auth import hash_token
from sceau_service.db import make_engine
from sceau_service.keys_cli import main
from sceau_service.settings import Settings
from sceau_service.store import Store

from ..c2pafiles import jpeg_bytes
from ..conftest import TEST_PASSPHRASE
from ..keys.test_x509 import _read, _sign_jpeg

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Run:
    monkeypatch.setenv("SCEAU_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SCEAU_DATABASE_URL", database_url)
    monkeypatch.setenv("SCEAU_KEY_PASSPHRASE", TEST_PASSPHRASE)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out.strip(), out.err.strip()

    return run


def test_operator_workflow(cli: Run, database_url: str) -> None:
    slug = f"c-{secrets.token_hex(4)}"
    assert cli("create-tenant", slug, "--name", "Newsroom")[:2] == (0, slug)
    code, token, _ = cli("create-token", slug, "--scope", "sign", "--scope", "keys:admin")
    assert code == 0 and token.startswith("sct_")
    engine = make_engine(database_url)
    store = Store(engine)
    try:
        row = store.token_by_hash(hash_token(token))
        assert row is not None and row.scopes == {"sign", "keys:admin"}

        code, first, err = cli("create-key", slug)
        assert code == 0 and "statement 1" in err
        code, pending, _ = cli("create-key", slug, "--pending")
        assert code == 0
        code, root, err = cli("create-root-key", slug)
        assert code == 0 and "statement 3" in err
        code, active, _ = cli("rotate", slug)  # activates the pending key
        assert (code, active) == (0, pending)
        code, new, _ = cli("rotate", slug, "--new")
        assert code == 0 and new not in (first, pending)
        since = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        code, replacement, _ = cli("revoke", "--compromised-since", since, "--", slug, new)
        assert code == 0 and replacement not in (first, pending, new)
        assert cli("revoke", "--all", "--", slug, first)[:2] == (0, replacement)

        code, listed, _ = cli("list", slug, "--json")
        keys = {k["kid"]: k for k in json.loads(listed)}
        assert {k: (v["role"], v["status"]) for k, v in keys.items()} == {
            first: ("signing", "revoked"), pending: ("signing", "retired"),
            new: ("signing", "revoked"), replacement: ("signing", "active"),
            root: ("root", "active")}
        assert keys[new]["compromised_since"] == since
        assert keys[first]["compromised_since"] is None
        code, text, _ = cli("list", slug)
        assert code == 0 and len(text.splitlines()) == 5 and root in text

        tenant = store.tenant_by_slug(slug)
        statements = [read_statement(e) for _, e in store.statements(tenant.id)]
        assert [s.version for s in statements] == [1, 2, 3, 4, 5, 6, 7]
        assert statements[-1].root_keyid == root

        assert cli("set-policy", slug, "--every-days", "30", "--overlap-days", "2")[0] == 0
        assert store.policies(tenant.id)[0].every_seconds == 30 * 86400
        # the active key was made just now: not due (other tenants share PostgreSQL)
        assert cli("rotate-due", "--tenant", slug) == (0, "", "")
    finally:
        engine.dispose()


def test_errors_exit_1_with_a_stable_code(cli: Run) -> None:
    slug = f"c-{secrets.token_hex(4)}"
    assert cli("create-tenant", slug)[0] == 0
    assert cli("create-tenant", slug)[0::2] == (1, f"error: conflict: tenant {slug!r} "
                                                   "already exists")
    code, _, err = cli("rotate", "no-such-tenant")
    assert code == 1 and err.startswith("error: not_found:")
    assert cli("create-key", slug)[0] == 0
    code, _, err = cli("revoke", slug, "A" * 43, "--all")
    assert code == 1 and err.startswith("error: not_found:")
    code, _, err = cli("revoke", slug, "A" * 43, "--compromised-since", "yesterday")
    assert code == 1 and err.startswith("error: validation_error:")
    code, _, err = cli("set-policy", slug, "--every-days", "3", "--overlap-days", "3")
    assert code == 1 and err.startswith("error: validation_error:")
    with pytest.raises(SystemExit) as exc:  # usage: argparse's exit code 2
        cli("revoke", slug, "A" * 43)
    assert exc.value.code == 2


def test_console_script_is_installed() -> None:
    exe = Path(sys.executable).parent / "sceau-keys"
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60,
                         check=False)
    assert out.returncode == 0 and "rotate-due" in out.stdout


def test_x509_ca_and_signing_certificate(cli: Run, tmp_path: Path) -> None:
    """create-ca + issue-cert give a chain for the tenant's active key that c2pa-python
    trusts with the tenant's CA as anchor; nothing is overwritten; refusals are clear."""
    slug = f"x-{secrets.token_hex(4)}"
    assert cli("create-tenant", slug, "--name", "Example News")[0] == 0
    ca_pem, chain_pem = tmp_path / "ca.pem", tmp_path / "chain.pem"
    code, _, err = cli("create-ca", slug, "--out", str(ca_pem))
    assert code == 1 and "error: not_found:" in err and "create-root-key" in err
    assert cli("create-root-key", slug)[0] == 0
    code, keyid, _ = cli("create-key", slug)
    assert code == 0
    assert cli("create-ca", slug, "--out", str(ca_pem)) == (0, str(ca_pem), "")
    assert cli("issue-cert", slug, "--ca", str(ca_pem), "--out", str(chain_pem))[0] == 0
    ee, ca = x509.load_pem_x509_certificates(chain_pem.read_bytes())
    assert ca.public_bytes(Encoding.DER) == x509.load_pem_x509_certificate(
        ca_pem.read_bytes()).public_bytes(Encoding.DER)
    ee.verify_directly_issued_by(ca)
    eku = ee.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.ObjectIdentifier("1.3.6.1.4.1.62558.2.1") in eku
    assert ee.subject.rfc4514_string() == f"CN=Example News seal key {keyid[:8]},O=Example News"
    # The certified key is the active signing key, in custody (never a caller's key).
    custody = admin.custody_for(Settings())
    raw = ee.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert raw == custody.public_key(keyid)
    # c2pa-python signs with that chain (the custody key signs) and trusts it via the CA.
    signed = _sign_jpeg(chain_pem.read_text(), custody.signer(keyid), jpeg_bytes(seed=3))
    state, codes = _read(signed, ca_pem.read_text())
    assert state == "Trusted" and codes["failure"] == [], codes
    # Refusals: an existing file is not overwritten, a foreign key, a non-certificate.
    code, _, err = cli("issue-cert", slug, "--ca", str(ca_pem), "--out", str(chain_pem))
    assert code == 1 and err.startswith("error: conflict:")
    code, _, err = cli("issue-cert", slug, "--ca", str(ca_pem), "--out",
                       str(tmp_path / "x.pem"), "--key=" + "A" * 43)
    assert code == 1 and err.startswith("error: not_found:")
    (tmp_path / "junk.pem").write_bytes(b"not a certificate")
    code, _, err = cli("issue-cert", slug, "--ca", str(tmp_path / "junk.pem"), "--out",
                       str(tmp_path / "y.pem"))
    assert code == 1 and err.startswith("error: validation_error:")
