"""Service configuration from the environment (prefix ``SCEAU_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Everything the service needs to start; read once, passed to :func:`create_app`."""

    model_config = SettingsConfigDict(env_prefix="SCEAU_", extra="ignore")

    data_dir: Path = Field(default=Path(".sceau"), description="keys, SQLite database, dev files")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite in data_dir")
    key_passphrase: SecretStr | None = Field(
        default=None, description="passphrase of the encrypted key files (required to sign)")
    # -- key custody (docs/DECISIONS.md "Custody backends") -----------------------------
    custody: Literal["file", "pkcs11"] = Field(
        default="file", description="where signing keys live: encrypted files in "
        "data_dir/keys, or a PKCS#11 token")
    pkcs11_module: str = Field(
        default="/usr/lib/softhsm/libsofthsm2.so",
        description="PKCS#11 module (shared library); default: Debian's SoftHSM2")
    pkcs11_token_label: str = Field(default="sceau", description="label of the signing token")
    pkcs11_pin: SecretStr | None = Field(
        default=None, description="user PIN of the PKCS#11 token(s) (required with pkcs11)")
    pkcs11_sign_processes: int | None = Field(
        default=None, ge=0, le=64, description="signing processes (each with its own "
        "module load, login and session) that sign large batches in parallel with pkcs11 "
        "custody; default: one per CPU, at most 4; 0: sign batches in the server process "
        "(docs/DECISIONS.md, parallel HSM signing)")
    root_key_passphrase: SecretStr | None = Field(
        default=None, description="passphrase of the tenant root key files in "
        "data_dir/root-keys; default: key_passphrase")
    switch_interval_ms: float | None = Field(
        default=None, gt=0.0, le=100.0,
        description="the interpreter's GIL switch interval in the server process; default: "
        "0.2 ms with pkcs11 custody (measured: docs/benchmarks.md, key custody), Python's "
        "own (5 ms) otherwise")
    pkcs11_root_token_label: str | None = Field(
        default=None, description="token holding tenant root keys; default: the signing "
        "token, where root keys are labelled root/<keyid>")
    max_body_bytes: int = Field(default=1 << 20, ge=1024)
    max_batch_body_bytes: int = Field(default=4 << 20, ge=1024)
    max_upload_bytes: int = Field(default=256 << 20, ge=1024)
    max_batch_items: int = Field(default=1000, ge=1, le=10_000)
    token_cache_seconds: float = Field(default=5.0, ge=0.0, le=300.0)
    keyring_cache_seconds: float = Field(default=5.0, ge=0.0, le=300.0)
    # -- key registry (docs/API.md "Key registry") --------------------------------------
    key_check_seconds: float = Field(
        default=1.0, ge=0.0, le=300.0, description="how often a replica checks that the "
        "signer it holds is still its tenant's active key (rotations by other replicas)")
    rotate_due_seconds: float = Field(
        default=0.0, ge=0.0, description="run scheduled rotations (rotation policies) every "
        "so many seconds inside the service; 0: off (run 'sceau-keys rotate-due' instead)")
    history_head_seconds: int = Field(
        default=86_400, ge=60, le=30 * 86_400, description="lifetime of the signed head of "
        "GET /v1/tenants/{tenant}/keys/history; it is re-signed when a quarter is left")
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
    c2pa_trust_anchors: Path | None = Field(
        default=None, description="PEM bundle of the CA certificates whose C2PA signers "
        "POST /v1/verify trusts (needs sceau[c2pa]); default: none trusted")
    upload_dir: Path | None = Field(
        default=None, description="where POST /v1/verify spools uploads (removed after each "
        "request); default: the system's temporary directory")
    generator_name: str = "sceau-service"

    # -- browser-extension backend (docs/API.md "Lookup", "CORS", "Rate limits") --------
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default=[], description="exact origins allowed to read the public endpoints "
        "cross-origin, comma-separated (e.g. https://news.example,chrome-extension://<id>); "
        "default none")
    cors_origin_regex: str | None = Field(
        default=None, description="a regular expression for more origins, matched in full "
        "(e.g. chrome-extension://[a-p]{32})")
    lookup_cache_size: int = Field(
        default=50_000, ge=0, le=10_000_000,
        description="POST /v1/lookup: how many rendered seal verdicts to keep (0: verify "
        "on every request)")
    rate_limit: bool | None = Field(
        default=None, description="per-client token-bucket rate limits; default: on with "
        "'sceau-service serve', off with 'dev' and in an embedded app")
    rate_read_per_second: float = Field(default=50.0, gt=0.0)
    rate_read_burst: int = Field(default=200, ge=1)
    rate_sign_per_second: float = Field(default=200.0, gt=0.0)
    rate_sign_burst: int = Field(default=1000, ge=1)
    rate_max_clients: int = Field(default=100_000, ge=16,
                                  description="clients tracked at once (least recent dropped)")
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default=[], description="peer addresses whose X-Forwarded-For is believed, "
        "comma-separated; default none: the client is the TCP peer")
    header_timeout: float = Field(default=10.0, gt=0.0, le=300.0,
                                  description="seconds to receive a request's headers")
    body_timeout: float = Field(default=10.0, gt=0.0, le=300.0,
                                description="seconds for a request body, extended by "
                                "body_min_rate (Apache mod_reqtimeout style)")
    body_min_rate: int = Field(default=64 << 10, ge=1,
                               description="bytes/s that extend body_timeout by one second")
    body_max_timeout: float = Field(default=600.0, gt=0.0,
                                    description="no body takes longer than this, any rate")
    limit_concurrency: int | None = Field(
        default=1000, ge=1, description="connections + tasks before the server answers 503")
    keep_alive_timeout: int = Field(default=5, ge=1, le=300)

    @field_validator("cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    def effective_switch_interval_ms(self) -> float | None:
        """The GIL switch interval the server process should use, or None for Python's."""
        if self.switch_interval_ms is not None:
            return self.switch_interval_ms
        return 0.2 if self.custody == "pkcs11" else None

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

    @property
    def root_keys_dir(self) -> Path:
        """Where encrypted tenant root key files live (file custody)."""
        return self.data_dir / "root-keys"
