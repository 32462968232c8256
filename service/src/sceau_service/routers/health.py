"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from sceau.errors import ServiceUnavailableError
from sceau_service.state import State

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    """Always ok while the process serves requests."""
    return {"status": "ok"}


@router.get("/readyz", summary="The service can serve: store reachable")
async def readyz(state: State) -> dict[str, str]:
    """Ok when the store answers; 503 ``unavailable`` otherwise."""
    try:
        await run_in_threadpool(state.store.ping)
    except Exception as exc:
        raise ServiceUnavailableError(f"store unavailable: {type(exc).__name__}") from None
    return {"status": "ok"}
