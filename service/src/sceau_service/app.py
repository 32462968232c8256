"""``create_app(settings)``: nothing is built at import time."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.concurrency import run_in_threadpool

import sceau
from sceau_keys import EncryptedFileCustody
from sceau_service.auth import TokenAuthority
from sceau_service.db import make_engine
from sceau_service.errors import install_error_handlers
from sceau_service.middleware import StrictBodyMiddleware
from sceau_service.migrate import upgrade
from sceau_service.routers import health, keys, seals, verify
from sceau_service.routers import log as log_router
from sceau_service.schemas import BatchCreate, SealCreate, VerifyCreate
from sceau_service.sealing import SealingService
from sceau_service.settings import Settings
from sceau_service.state import AppState, KeyRingCache
from sceau_service.store import Store
from sceau_service.tlog import LogKeyCache, TransparencyLog
from sceau_service.writer import SealWriter

__all__ = ["create_app"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def create_app(settings: Settings, *, clock: Callable[[], datetime] = _utcnow,
               migrate: bool = True) -> FastAPI:
    """Build the FastAPI application for ``settings``.

    The database engine, migrations, key loading and the group-commit writer are set up in
    the app's lifespan, not here.  ``clock`` is injectable for tests.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.resolved_database_url)
        if migrate:
            await run_in_threadpool(upgrade, engine)
        store = Store(engine)
        custody = None
        if settings.key_passphrase is not None:
            custody = EncryptedFileCustody(
                settings.keys_dir, settings.key_passphrase.get_secret_value().encode())
        log = TransparencyLog(store, custody, clock)
        writer = SealWriter(store, settings.write_batch_max,
                            log=log if settings.log else None)
        sealing = SealingService(store, custody, writer, clock,
                                 (settings.generator_name, sceau.__version__))
        writer.start()
        app.state.sceau = AppState(
            settings=settings, store=store,
            tokens=TokenAuthority(store, settings.token_cache_seconds),
            sealing=sealing, keyring=KeyRingCache(store, settings.keyring_cache_seconds),
            log=log, log_keys=LogKeyCache(log, settings.keyring_cache_seconds))
        # Everything built so far lives as long as the process: move it out of the
        # collector's sight, so that full collections (which run every few thousand
        # requests) do not rescan it each time; they were the p99 latency spikes.
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
            await writer.close()
            engine.dispose()

    app = FastAPI(
        title="Sceau",
        version=sceau.__version__,
        summary="Seal media with signed provenance manifests; verify them.",
        lifespan=lifespan,
        telemetry=None if settings.telemetry else {
            "tracing": False, "metrics": False, "logs": False},
    )
    install_error_handlers(app)
    for router in (seals.router, verify.router, keys.router, log_router.router, health.router):
        app.include_router(router)

    def limit_for(path: str, content_type: str) -> int:
        if content_type.startswith("multipart/"):
            return settings.max_upload_bytes
        if path == "/v1/seals/batch":
            return settings.max_batch_body_bytes
        return settings.max_body_bytes

    app.add_middleware(StrictBodyMiddleware, limit_for=limit_for,
                       multipart_paths={"/v1/verify"})
    _document_bodies(app, (SealCreate, BatchCreate, VerifyCreate))
    return app


def _document_bodies(app: FastAPI, models: tuple[type[BaseModel], ...]) -> None:
    """Put in the OpenAPI components the schemas of bodies that routes validate
    themselves (their ``openapi_extra`` refers to them by name)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            _, defs = models_json_schema([(m, "validation") for m in models],
                                         ref_template="#/components/schemas/{model}")
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for name, definition in defs.get("$defs", {}).items():
                components.setdefault(name, definition)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
