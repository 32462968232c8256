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

from sceau.keyhistory import read_statement
from sceau_service.auth import hash_token
from sceau_service.db import make_engine
from sceau_service.keys_cli import main
from sceau_service.store import Store

from ..conftest import TEST_PASSPHRASE

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
