"""``sign_envelopes``: a batch of payloads signed in one call when the signer can."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from sceau import LocalSigner
from sceau.envelope import (
    CLAIM_PAYLOAD_TYPE,
    MAX_PAYLOAD_BYTES,
    pae,
    parse_envelope,
    sign_envelope,
    sign_envelopes,
)
from sceau.errors import MalformedEnvelopeError

SEED = bytes(range(32))  # test vector seed, not a secret


class _OneByOne:
    """A signer without ``sign_many``: counts its calls."""

    def __init__(self) -> None:
        self._inner = LocalSigner.from_seed(SEED)
        self.calls = 0

    @property
    def keyid(self) -> str:
        return self._inner.keyid

    def sign(self, message: bytes) -> bytes:
        self.calls += 1
        return self._inner.sign(message)


class _Batch(_OneByOne):
    """A signer with ``sign_many``, optionally returning one signature too few."""

    def __init__(self, short: bool = False) -> None:
        super().__init__()
        self.batches: list[list[bytes]] = []
        self.short = short

    def sign_many(self, messages: Sequence[bytes]) -> list[bytes]:
        self.batches.append(list(messages))
        sigs = [self._inner.sign(m) for m in messages]
        return sigs[:-1] if self.short else sigs


PAYLOADS = [b'{"n":%d}' % i for i in range(5)]


def test_same_envelopes_as_one_by_one() -> None:
    signer = LocalSigner.from_seed(SEED)
    expected = [sign_envelope(p, signer).to_bytes() for p in PAYLOADS]
    assert [e.to_bytes() for e in sign_envelopes(PAYLOADS, _OneByOne())] == expected
    assert [e.to_bytes() for e in sign_envelopes(PAYLOADS, _Batch())] == expected
    assert [e.to_bytes() for e in sign_envelopes(PAYLOADS, signer)] == expected
    assert parse_envelope(expected[3]).payload == PAYLOADS[3]


def test_sign_many_is_called_once_with_the_pae_messages() -> None:
    batch = _Batch()
    sign_envelopes(PAYLOADS, batch)
    assert batch.calls == 0
    assert batch.batches == [[pae(CLAIM_PAYLOAD_TYPE, p) for p in PAYLOADS]]
    plain = _OneByOne()
    sign_envelopes(PAYLOADS, plain)
    assert plain.calls == len(PAYLOADS)


def test_a_wrong_number_of_signatures_is_refused() -> None:
    with pytest.raises(ValueError, match="number of signatures"):
        sign_envelopes(PAYLOADS, _Batch(short=True))


def test_nothing_is_signed_when_one_payload_is_too_big() -> None:
    batch = _Batch()
    with pytest.raises(MalformedEnvelopeError):
        sign_envelopes([*PAYLOADS, b"x" * (MAX_PAYLOAD_BYTES + 1)], batch)
    assert batch.batches == []
    assert sign_envelopes([], batch) == []
