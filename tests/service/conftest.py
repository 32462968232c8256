"""Service fixtures: an app on SQLite or PostgreSQL with its own tenant, key and tokens."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from sceau_service import Settings, create_app
from sceau_service.admin import (
    create_key,
    create_token,
    custody_for,
    ensure_log_key,
    ensure_tenant,
)
from sceau_service.db import make_engine
from sceau_service.migrate import upgrade
from sceau_service.store import Store

from ..conftest import TEST_PASSPHRASE


@dataclass
class Service:
    """A running app (in-process, lifespan started) and credentials for one tenant."""

    client: TestClient
    settings: Settings
    store: Store
    tenant: str
    keyid: str
    sign_token: str
    read_token: str

    def auth(self, token: str | None = None) -> dict[str, str]:
        """Headers with a bearer token (the sign token by default)."""
        return {"authorization": f"Bearer {token or self.sign_token}"}


def make_tenant(store: Store, settings: Settings, slug: str) -> tuple[str, str, str]:
    """A tenant with an active key; returns (keyid, sign token, read-only token).

    The database's transparency log gets a key this data dir holds (created, or rotated
    to when the shared PostgreSQL database's log key lives in another test's data dir).
    """
    tenant = ensure_tenant(store, slug)
    keyid = create_key(store, custody_for(settings), tenant)
    ensure_log_key(store, custody_for(settings))
    return (keyid, create_token(store, tenant, {"sign"}),
            create_token(store, tenant, {"read"}))


@contextmanager
def running_service(database_url: str, tmp_path: Path, **settings_: Any) -> Iterator[Service]:
    """The app on ``database_url`` (lifespan started) with a fresh tenant (unique slug:
    PostgreSQL is shared); ``settings_`` adds or overrides settings."""
    settings = Settings(**{"data_dir": tmp_path / "data", "database_url": database_url,
                           "key_passphrase": SecretStr(TEST_PASSPHRASE),
                           "token_cache_seconds": 0, "keyring_cache_seconds": 0,
                           **settings_})
    engine = make_engine(database_url)
    upgrade(engine)
    store = Store(engine)
    slug = f"t-{secrets.token_hex(4)}"
    keyid, sign_token, read_token = make_tenant(store, settings, slug)
    app = create_app(settings, clock=lambda: datetime.now(UTC))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Service(client, settings, store, slug, keyid, sign_token, read_token)
    engine.dispose()


@pytest.fixture
def service(database_url: str, tmp_path: Path) -> Iterator[Service]:
    """The app on each database, with a fresh tenant."""
    with running_service(database_url, tmp_path) as running:
        yield running
