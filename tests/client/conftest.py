"""Fixtures for the SDK core tests: fixed test keys, a claim factory and a sealer."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from sceau.canonical import canonicalize
from sceau.claim import build_claim
from sceau.cli import main
from sceau.envelope import Envelope, sign_envelope
from sceau.local import LocalSigner

#: The signer's time of every claim built by the fixtures, and a "now" shortly after it.
CREATED = datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)
NOW = datetime(2026, 3, 15, tzinfo=UTC)
CONTENT = b"content bytes for the SDK core tests\n"


def _signer(label: str) -> LocalSigner:
    # TEST KEYS ONLY: seeds derived from public labels.
    return LocalSigner.from_seed(hashlib.sha256(f"sceau unit test key: {label}".encode()).digest())


@pytest.fixture(scope="session")
def signer() -> LocalSigner:
    """The main test key (tenant ``example-news``)."""
    return _signer("main")


@pytest.fixture(scope="session")
def other_signer() -> LocalSigner:
    """A second, unrelated test key."""
    return _signer("other")


@pytest.fixture(scope="session")
def make_claim() -> Callable[..., dict[str, Any]]:
    """Build a valid claim for CONTENT signed-for by a given signer; keywords override."""

    def make(signer: LocalSigner, *, tenant: str = "example-news",
             **kw: Any) -> dict[str, Any]:
        args: dict[str, Any] = {
            "sha256": hashlib.sha256(CONTENT).digest(),
            "size": len(CONTENT),
            "media_type": "image/jpeg",
            "tenant": tenant,
            "keyid": signer.keyid,
            "created": CREATED,
            "instance_id": "xmp:iid:00000000-0000-4000-8000-000000000001",
        }
        args.update(kw)
        return build_claim(**args)

    return make


@pytest.fixture(scope="session")
def seal(make_claim: Callable[..., dict[str, Any]]) -> Callable[..., Envelope]:
    """Seal a claim object (default: a fresh valid one) with a signer."""

    def make(signer: LocalSigner, claim: dict[str, Any] | None = None,
             **kw: Any) -> Envelope:
        obj = make_claim(signer, **kw) if claim is None else claim
        return sign_envelope(canonicalize(obj), signer)

    return make


@dataclass
class Run:
    """What one ``sceau`` CLI run gave: exit code, stdout, stderr."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        """stdout parsed as JSON."""
        return json.loads(self.out)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    """Run the ``sceau`` CLI in-process (``transport`` replaces the network)."""
    def run(*argv: str, transport: httpx.BaseTransport | None = None) -> Run:
        code = main(list(argv), transport=transport)
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run
