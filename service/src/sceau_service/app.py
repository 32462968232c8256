"""``create_app(settings)``: nothing is built at import time."""

from __future__ import annotations

import asyncio
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
from sceau_service.admin import custody_for, root_custody_for
from sceau_service.auth import TokenAuthority
from sceau_service.cors import PublicCORSMiddleware
from sceau_service.db import make_engine
from sceau_service.errors import install_error_handlers
from sceau_service.fastlane import SceauApp
from sceau_service.middleware import StrictBodyMiddleware
from sceau_service.migrate import upgrade
from sceau_service.ratelimit import RateLimitMiddleware, TokenBuckets
from sceau_service.registry import Registry, run_scheduled_rotations
from sceau_service.routers import health, keys, lookup, page, seals, tenants, verify
from sceau_service.routers import log as log_router
from sceau_service.schemas import BatchCreate, LookupCreate, SealCreate, VerifyCreate
from sceau_service.sealing import SealingService
from sceau_service.settings import Settings
from sceau_service.state import AppState, HistoryCache, KeyRingCache
from sceau_service.store import LookupReader, Store
from sceau_service.timeouts import BodyTimeoutMiddleware, NoContentEncodingMiddleware
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
        # The lookup's own connection (store.LookupReader), closed before the engine.
        app.state.lookup_reader = LookupReader(store)
        custody = None
        if settings.key_passphrase is not None or settings.custody == "pkcs11":
            custody = await run_in_threadpool(custody_for, settings)
        log = TransparencyLog(store, custody, clock)
        writer = SealWriter(store, settings.write_batch_max,
                            log=log if settings.log else None)
        sealing = SealingService(store, custody, writer, clock,
                                 (settings.generator_name, sceau.__version__),
                                 key_check_seconds=settings.key_check_seconds)
        keyring = KeyRingCache(store, settings.keyring_cache_seconds)
        history = HistoryCache(store, custody, clock, settings.history_head_seconds,
                               settings.keyring_cache_seconds)

        def key_changed(tenant_id: int) -> None:
            # This replica sees its own changes at once; others within their checks.
            sealing.forget_signers(tenant_id)
            keyring.invalidate()
            history.invalidate(tenant_id)

        registry = Registry(store, custody, clock=clock, on_change=key_changed,
                            root_custody_factory=lambda: root_custody_for(settings))
        writer.start()
        app.state.sceau = AppState(
            settings=settings, store=store,
            tokens=TokenAuthority(store, settings.token_cache_seconds),
            sealing=sealing, keyring=keyring,
            log=log, log_keys=LogKeyCache(log, settings.keyring_cache_seconds),
            registry=registry, history=history)
        stop = asyncio.Event()
        scheduler = (asyncio.create_task(run_scheduled_rotations(
            registry, settings.rotate_due_seconds, stop))
            if settings.rotate_due_seconds > 0 else None)
        # Everything built so far lives as long as the process: move it out of the
        # collector's sight, so that full collections (which run every few thousand
        # requests) do not rescan it each time; they were the p99 latency spikes.
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
            stop.set()
            if scheduler is not None:
                await scheduler  # lets a rotation in progress finish
            await sealing.close()
            await writer.close()
            await app.state.lookup_reader.close()
            engine.dispose()

    app = SceauApp(
        title="Sceau",
        version=sceau.__version__,
        summary="Seal media with signed provenance manifests; verify them.",
        lifespan=lifespan,
        telemetry=None if settings.telemetry else {
            "tracing": False, "metrics": False, "logs": False},
        lean=not settings.telemetry,
    )
    install_error_handlers(app)
    # The lookup first: the browser extension's call is the most frequent, and routes are
    # matched in order.
    for router in (lookup.router, seals.router, verify.router, keys.router, tenants.router,
                   log_router.router, health.router, page.router):
        app.include_router(router)
    app.state.lookup_cache = lookup.LookupCache(settings.lookup_cache_size)

    def limit_for(path: str, content_type: str) -> int:
        if content_type.startswith("multipart/"):
            return settings.max_upload_bytes
        if path == "/v1/seals/batch":
            return settings.max_batch_body_bytes
        return settings.max_body_bytes

    app.add_middleware(StrictBodyMiddleware, limit_for=limit_for,
                       multipart_paths={"/v1/verify"})
    # Outermost last: CORS (so that 429s and 408s carry its headers), rate limits, body
    # deadlines, then the strict body checks.
    app.add_middleware(NoContentEncodingMiddleware)
    app.add_middleware(BodyTimeoutMiddleware, timeout=settings.body_timeout,
                       min_rate=settings.body_min_rate, max_timeout=settings.body_max_timeout)
    if settings.rate_limit:
        app.add_middleware(
            RateLimitMiddleware, trusted_proxies=settings.trusted_proxies,
            read=TokenBuckets(settings.rate_read_per_second, settings.rate_read_burst,
                              settings.rate_max_clients),
            sign=TokenBuckets(settings.rate_sign_per_second, settings.rate_sign_burst,
                              settings.rate_max_clients))
    if settings.cors_origins or settings.cors_origin_regex:
        app.add_middleware(PublicCORSMiddleware, origins=settings.cors_origins,
                           origin_regex=settings.cors_origin_regex)
    _document_bodies(app, (SealCreate, BatchCreate, VerifyCreate, LookupCreate))
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
