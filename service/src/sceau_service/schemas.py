"""Request and response bodies (pydantic), named ``XCreate`` / ``XPublic``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

__all__ = [
    "LOOKUP_MAX_HASHES",
    "BatchCreate",
    "BatchPublic",
    "ErrorPublic",
    "ExclusionCreate",
    "IngredientCreate",
    "LookupCreate",
    "LookupPublic",
    "LookupResultPublic",
    "SealCreate",
    "SealListPublic",
    "SealPublic",
    "SealSummaryPublic",
    "SoftwareAgent",
    "VerdictPublic",
    "VerifyCreate",
]

Hex256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
MediaType = Annotated[str, StringConstraints(
    max_length=192, pattern=r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")]

_STRICT = ConfigDict(strict=True, extra="forbid")


class SoftwareAgent(BaseModel):
    """The tool or model that produced the content (C2PA ``softwareAgent``)."""

    model_config = _STRICT
    name: Name
    version: Annotated[str, StringConstraints(max_length=100)] | None = None


class IngredientCreate(BaseModel):
    """A parent or component of this content (C2PA ingredient)."""

    model_config = ConfigDict(strict=True, extra="forbid", populate_by_name=True)
    relationship: Literal["parentOf", "componentOf", "inputTo"]
    title: Text | None = Field(default=None, alias="dc:title")
    format: MediaType | None = Field(default=None, alias="dc:format")
    seal_id: Hex256 | None = None
    sha256: Hex256 | None = None


class ExclusionCreate(BaseModel):
    """A byte range of the file left out of the hash: where an embedded seal goes
    (SPEC.md §4.4, §6.3)."""

    model_config = _STRICT
    start: Annotated[int, Field(ge=0, le=2**53 - 1)]
    length: Annotated[int, Field(ge=1, le=2**53 - 1)]


#: At most this many excluded ranges per request (Sceau's writers use one).
MAX_EXCLUSIONS = 8
Exclusions = Annotated[list[ExclusionCreate], Field(max_length=MAX_EXCLUSIONS)]


def check_exclusions(exclusions: list[ExclusionCreate], size: int) -> None:
    """Ranges must be sorted, disjoint and inside the file (SPEC.md §4.4)."""
    end = 0
    for item in exclusions:
        if item.start < end or item.start + item.length > size:
            raise ValueError("exclusions must be sorted, disjoint and inside 'size'")
        end = item.start + item.length


class SealCreate(BaseModel):
    """What to seal: a content hash computed by the caller, and how the content was made."""

    model_config = _STRICT
    alg: Annotated[str, StringConstraints(max_length=32)] = Field(
        default="sha256", description="hash algorithm; v1 supports sha256 only")
    hash: str = Field(description="lowercase hex digest of the content (any other length "
                                  "or alphabet is answered invalid_hash)")
    size: Annotated[int, Field(ge=0, le=2**53 - 1)] = Field(description="content size in bytes")
    media_type: MediaType
    title: Text | None = None
    digital_source_type: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        default=None, description="IPTC digital source type term or URI (default digitalCapture)")
    action: Literal["c2pa.created", "c2pa.opened"] = "c2pa.created"
    software_agent: SoftwareAgent | None = None
    # default_factory, not a [] default: pydantic deep-copies mutable defaults on every
    # validation, a measurable share of a seal request.
    author: Annotated[list[Name], Field(max_length=16)] = Field(default_factory=list)
    publisher: Name | None = None
    ingredients: Annotated[list[IngredientCreate], Field(max_length=32)] = Field(
        default_factory=list)
    exclusions: Exclusions = Field(
        default_factory=list, description="byte ranges of the file left out of the hash, where the "
                                "caller will embed the seal; 'size' is the whole file's")
    chunk_size: Annotated[int, Field(ge=1024, le=2**30)] | None = Field(
        default=None, description="chunked (Merkle) binding: the chunk size; 'hash' is "
                                  "then the Merkle root (SPEC.md §4.5)")
    chunks: Annotated[list[Hex256], Field(max_length=1024)] | None = Field(
        default=None, description="chunked binding: each chunk's leaf hash, in order")

    @model_validator(mode="after")
    def _binding(self) -> SealCreate:
        check_exclusions(self.exclusions, self.size)
        if (self.chunk_size is None) != (self.chunks is None):
            raise ValueError("give both 'chunk_size' and 'chunks', or neither")
        return self


class BatchCreate(BaseModel):
    """Many seals in one request."""

    model_config = _STRICT
    items: Annotated[list[SealCreate], Field(min_length=1)]


class SealPublic(BaseModel):
    """One issued seal."""

    seal_id: str
    seal: dict[str, Any] = Field(description="the envelope (SPEC.md §3)")


class BatchPublic(BaseModel):
    """Seals issued for a batch, in request order."""

    seals: list[SealPublic]


class SealSummaryPublic(BaseModel):
    """A stored seal found by content hash."""

    seal_id: str
    tenant: str
    keyid: str
    media_type: str
    created: str
    seal: dict[str, Any]


class SealListPublic(BaseModel):
    """Seals of one content hash, newest first."""

    seals: list[SealSummaryPublic]


class VerifyCreate(BaseModel):
    """Verify a seal (and optionally content by its hash), or look seals up by hash."""

    model_config = _STRICT
    seal: dict[str, Any] | None = None
    alg: Annotated[str, StringConstraints(max_length=32)] = "sha256"
    hash: str | None = None
    size: Annotated[int, Field(ge=0, le=2**53 - 1)] | None = None
    exclusions: Exclusions = Field(
        default_factory=list,
        description="the ranges left out of 'hash' (where the seal was found)")
    chunk_size: Annotated[int, Field(ge=1024, le=2**30)] | None = Field(
        default=None, description="set when 'hash' is a chunked binding's Merkle root")

    @model_validator(mode="after")
    def _ranges(self) -> VerifyCreate:
        if self.size is not None:
            check_exclusions(self.exclusions, self.size)
        return self


class VerdictPublic(BaseModel):
    """A verification verdict (SPEC.md §7.4)."""

    ok: bool
    seal_id: str | None
    status_codes: list[str]
    signature: str
    integrity: str
    signer: dict[str, Any]
    time: dict[str, Any]
    claim: dict[str, Any] | None
    log: dict[str, Any] | None = Field(
        default=None, description="origin, index and tree_size of the log entry, when the "
                                  "seal's log proof verified")
    summary: str = Field(description="one plain-language sentence, in 'lang'")
    label: str | None = Field(
        description="origin as the seal states it (ai_generated, partly_ai_generated, "
                    "captured, edited, created_digitally, unknown_origin); null when the "
                    "signature is not valid")
    label_text: str | None = Field(default=None, description="the label in words, in 'lang'")
    lang: str = Field(default="en", description="language of summary and label_text: en, fr")
    source: str = Field(default="sceau", description="sceau, or c2pa for a standard C2PA "
                        "manifest read with c2pa-python")
    found: str | None = Field(default=None, description="where the seal was: embedded, "
                              "sidecar, store, request")
    damaged_chunks: list[int] | None = Field(
        default=None, description="chunked bindings: the chunks that differ")
    c2pa: dict[str, Any] | None = Field(
        default=None, description="C2PA files only: validation_state, active_manifest, "
                                  "title, claim_generator, actions, failures")


#: At most this many hashes per ``POST /v1/lookup`` (docs/API.md): a page's images fit in
#: one or a few calls, and one call stays one indexed query.
LOOKUP_MAX_HASHES = 100


class LookupCreate(BaseModel):
    """Content hashes to look up (the browser extension: a page's images)."""

    model_config = _STRICT
    hashes: Annotated[list[Hex256], Field(min_length=1, max_length=LOOKUP_MAX_HASHES)] = Field(
        description=f"1 to {LOOKUP_MAX_HASHES} lowercase hex SHA-256 digests of content")


class LookupResultPublic(BaseModel):
    """One hash's answer: ``found`` false, or the newest seal's verdict in short."""

    sha256: str
    found: bool
    seal_id: str | None = Field(default=None, description="present when found")
    ok: bool | None = Field(default=None, description="the seal verifies against the "
                            "service's key ring (retired keys ok, revoked ones not)")
    label: str | None = Field(default=None, description="origin label (see VerdictPublic); "
                              "null when the signature is not valid")
    label_text: str | None = Field(default=None, description="the label in the reader's "
                                   "language")
    summary: str | None = Field(default=None, description="one plain-language sentence")
    signer: dict[str, Any] | None = Field(default=None, description="keyid, tenant, trusted, "
                                          "key_status")
    time: dict[str, Any] | None = Field(default=None, description="signer_time, "
                                        "trusted_time, attested")


class LookupPublic(BaseModel):
    """Answers in request order (a hash given twice is answered twice)."""

    results: list[LookupResultPublic]


class ErrorPublic(BaseModel):
    """Every error answer."""

    code: str
    detail: str
