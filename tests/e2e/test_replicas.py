"""Two service replicas on one PostgreSQL database, sealing concurrently."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from sceau import Client, ContentDigest, verify_seal

from ..conftest import fresh_database, start_server, stop_server

pytestmark = pytest.mark.e2e


def test_two_replicas_share_one_store(postgres_admin: Engine, tmp_path: Path) -> None:
    with fresh_database(postgres_admin) as url:
        a = start_server(tmp_path, url, name="replica-a")
        b = start_server(tmp_path, url, name="replica-b")
        try:
            def seal(i: int) -> tuple[str, bytes, ContentDigest]:
                data = f"frame {i}".encode()
                digest = ContentDigest("sha256", hashlib.sha256(data).digest(), len(data))
                server = a if i % 2 else b
                with Client(server.url, server.token) as client:
                    result = client.seal(digest, media_type="image/jpeg")
                return result.seal_id, result.envelope_bytes, digest

            with ThreadPoolExecutor(8) as pool:
                sealed = list(pool.map(seal, range(200)))
            # Every seal made by either replica is served and verifies through the other.
            with Client(a.url) as ca, Client(b.url) as cb:
                ring = cb.keyring()
                for sid, envelope, digest in sealed:
                    assert ca.get_seal(sid) == envelope
                    assert cb.get_seal(sid) == envelope
                    verdict = verify_seal(envelope, ring, now=datetime.now(UTC), content=digest)
                    assert verdict.ok, verdict.status_codes
            assert len({sid for sid, _, _ in sealed}) == 200
        finally:
            stop_server(a)
            stop_server(b)
