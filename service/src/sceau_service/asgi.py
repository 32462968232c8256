"""ASGI factory for multi-worker uvicorn: ``uvicorn --factory sceau_service.asgi:create``."""

from __future__ import annotations

from fastapi import FastAPI

from sceau_service.app import create_app
from sceau_service.settings import Settings

__all__ = ["create"]


def create() -> FastAPI:
    """An app configured from the environment."""
    return create_app(Settings())
