"""``LocalSigner.sign_many``: the batch form of ``sign``."""

from __future__ import annotations

import secrets

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sceau import LocalSigner

from ..threads import run_threads


@pytest.mark.parametrize("n", [0, 1, 200])
def test_sign_many_equals_sign_in_order(n: int) -> None:
    signer = LocalSigner.generate()
    messages = [secrets.token_bytes(i % 300) for i in range(n)]
    signatures = signer.sign_many(messages)
    assert signatures == [signer.sign(m) for m in messages]
    public = Ed25519PublicKey.from_public_bytes(signer.public_key)
    for message, signature in zip(messages, signatures, strict=True):
        public.verify(signature, message)


def test_rfc8032_vector() -> None:
    # RFC 8032 §7.1, TEST 2: one byte 0x72.
    signer = LocalSigner.from_seed(bytes.fromhex(
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"))
    assert signer.sign_many([b"\x72"])[0].hex() == (
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00")


def test_concurrent_callers() -> None:
    signer = LocalSigner.generate()
    batches = [[secrets.token_bytes(100) for _ in range(150)] for _ in range(6)]
    results: dict[int, list[bytes]] = {}

    def work(i: int) -> None:
        results[i] = signer.sign_many(batches[i])

    assert not run_threads(work, 6)
    for i, batch in enumerate(batches):
        assert results[i] == [signer.sign(m) for m in batch]
