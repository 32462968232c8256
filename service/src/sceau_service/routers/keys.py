"""Key publication: ``/.well-known/jwks.json``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from sceau_service.state import State

router = APIRouter(tags=["keys"])


@router.get("/.well-known/jwks.json", summary="Public signing keys of every tenant",
            response_model=dict[str, Any])
async def jwks(state: State) -> JSONResponse:
    """Every signing key ever used (keys are never deleted), with tenant and status."""
    ring = await state.keyring.get()
    return JSONResponse(ring.to_jwks(), headers={"Cache-Control": "public, max-age=60"})
