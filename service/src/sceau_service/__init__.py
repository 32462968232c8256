"""Sceau REST service: seals media hashes, stores and serves seals, verifies them."""

from sceau_service.app import create_app
from sceau_service.settings import Settings

__version__ = "0.1.0"
__all__ = ["Settings", "__version__", "create_app"]
