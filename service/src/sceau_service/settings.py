"""Service configuration from the environment (prefix ``SCEAU_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Everything the service needs to start; read once, passed to :func:`create_app`."""

    model_config = SettingsConfigDict(env_prefix="SCEAU_", extra="ignore")

    data_dir: Path = Field(default=Path(".sceau"), description="keys, SQLite database, dev files")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite in data_dir")
    key_passphrase: SecretStr | None = Field(
        default=None, description="passphrase of the encrypted key files (required to sign)")
    max_body_bytes: int = Field(default=1 << 20, ge=1024)
    max_batch_body_bytes: int = Field(default=4 << 20, ge=1024)
    max_upload_bytes: int = Field(default=256 << 20, ge=1024)
    max_batch_items: int = Field(default=1000, ge=1, le=10_000)
    token_cache_seconds: float = Field(default=5.0, ge=0.0, le=300.0)
    keyring_cache_seconds: float = Field(default=5.0, ge=0.0, le=300.0)
    write_batch_max: int = Field(default=2048, ge=1)
    telemetry: bool = Field(
        default=False, description="FastAPI's native OpenTelemetry (traces, metrics, logs "
        "through the global providers); off by default: even with no provider configured "
        "its per-request checks cost ~5% of a seal request")
    log: bool = Field(default=True, description="append every seal to the transparency log "
                      "and put its inclusion proof in the seal (SPEC.md §6.1)")
    log_origin: str | None = Field(
        default=None, description="origin (name) of the transparency log when it is created; "
        "default sceau.local/log-<key id prefix>")
    verify_require_log: bool = Field(
        default=False, description="POST /v1/verify fails seals without a log proof")
    generator_name: str = "sceau-service"

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to ``sqlite:///<data_dir>/sceau.db``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'sceau.db').resolve()}"

    @property
    def keys_dir(self) -> Path:
        """Where encrypted key files live."""
        return self.data_dir / "keys"
