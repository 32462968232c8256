"""Request and response bodies (pydantic), named ``XCreate`` / ``XPublic``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

__all__ = [
    "BatchCreate",
    "BatchPublic",
    "ErrorPublic",
    "ExclusionCreate",
    "IngredientCreate",
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
    summary: str = Field(description="one plain-language sentence")
    label: str | None = Field(
        description="origin as the seal states it (ai_generated, partly_ai_generated, "
                    "captured, edited, created_digitally, unknown_origin); null when the "
                    "signature is not valid")


class ErrorPublic(BaseModel):
    """Every error answer."""

    code: str
    detail: str
