"""The committed test vectors (docs/SPEC.md §9): each verifies to exactly its expected
verdict, together they cover every status code, and they are reproducible."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from sceau.encoding import b64url_encode
from sceau.envelope import parse_envelope
from sceau.keyring import KeyRing
from sceau.local import LocalSigner
from sceau.timefmt import parse_time
from sceau.verify import Status, verify_seal

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors"
FILES = sorted(p for p in VECTORS.glob("*.json") if p.name != "keys.json")
CLAIM_SOURCE = ROOT / "client" / "src" / "sceau" / "claim.py"


def _load(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


def _generator() -> ModuleType:
    name = "sceau_test_vector_generator"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, VECTORS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


def _verify(doc: dict[str, Any], seal: bytes | str) -> Any:
    ring = KeyRing.from_jwks(doc["keys"], doc["trusted_tenants"])
    gen = _generator()  # the vector reader of SPEC.md §9
    content = gen._content_digest(doc["content"])
    return verify_seal(seal, ring, now=parse_time(doc["now"]), content=content,
                       log_keys=gen._log_keys(doc), require_log=doc.get("require_log", False))


def _claim_statuses() -> set[str]:
    """Every status code claim.py can raise, read from its source."""
    source = CLAIM_SOURCE.read_text(encoding="utf-8")
    return set(re.findall(r'"((?:claim|assertion|algorithm)\.[A-Za-z.]+)"', source))


def _status_codes() -> tuple[set[str], set[str]]:
    codes = {v for k, v in vars(Status).items() if k.isupper() and isinstance(v, str)}
    success = set(Status.SUCCESS)
    return success, (codes - success) | _claim_statuses()


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_vector(path: Path) -> None:
    doc = _load(path)
    expected = doc["expected"]
    verdict = _verify(doc, doc["seal"].encode("utf-8"))
    assert list(verdict.status_codes) == expected["status_codes"]
    assert verdict.ok is expected["ok"]
    assert verdict.seal_id == expected["seal_id"]
    if "damaged_chunks" in expected:
        assert list(verdict.damaged_chunks) == expected["damaged_chunks"]
    assert path.name.startswith("valid-" if expected["ok"] else "invalid-")
    # The same verdict from the text form of the seal.
    assert _verify(doc, doc["seal"]).status_codes == verdict.status_codes


def test_vector_counts() -> None:
    names = [p.name for p in FILES]
    assert sum(n.startswith("valid-") for n in names) >= 12
    assert sum(n.startswith("invalid-") for n in names) >= 22


def test_vectors_are_self_describing() -> None:
    for path in FILES:
        doc = _load(path)
        assert {"description", "keys", "trusted_tenants", "now", "content", "seal",
                "expected"} <= set(doc), path.name
        assert set(doc["expected"]) - {"damaged_chunks"} == {"ok", "status_codes", "seal_id"}
        # log_keys and require_log come together, or not at all (no log known).
        assert ("log_keys" in doc) is ("require_log" in doc), path.name
        for jwk in doc["keys"]["keys"]:
            assert "d" not in jwk, "vector rings hold public keys only"


def test_vectors_cover_every_status_code() -> None:
    success, failures = _status_codes()
    seen_valid: set[str] = set()
    seen_invalid: set[str] = set()
    for path in FILES:
        expected = _load(path)["expected"]
        (seen_valid if expected["ok"] else seen_invalid).update(expected["status_codes"])
    assert success <= seen_valid
    assert failures <= seen_invalid, sorted(failures - seen_invalid)


def test_valid_seals_are_canonical_envelopes() -> None:
    for path in FILES:
        doc = _load(path)
        if not doc["expected"]["ok"] or path.stem == "valid-envelope-not-canonical":
            continue
        seal = doc["seal"].encode("utf-8")
        assert parse_envelope(seal).to_bytes() == seal, path.name


def test_keys_json_matches_the_rings() -> None:
    keys = _load(VECTORS / "keys.json")
    assert "TEST VECTOR ONLY" in keys["warning"]
    ring = _load(FILES[0])["keys"]
    ring_kids = {k["kid"]: k for k in ring["keys"]}
    for entry in keys["keys"]:
        signer = LocalSigner.from_seed(bytes.fromhex(entry["seed_hex"]))
        assert b64url_encode(signer.public_key) == entry["public_x"]
        assert signer.keyid == entry["kid"]
        assert (entry["kid"] in ring_kids) is entry["in_verifier_ring"]
    for path in FILES:
        assert _load(path)["keys"] == ring


def test_generation_is_reproducible() -> None:
    gen = _generator()
    first = gen.build()
    assert first == gen.build()
    on_disk = {p.name: p.read_bytes() for p in VECTORS.glob("*.json")}
    assert sorted(first) == sorted(on_disk), "stale or missing vector files"
    for name, data in first.items():
        assert on_disk[name] == data, f"{name} differs from a fresh generation"


def test_spec_lists_every_status_code() -> None:
    spec = (ROOT / "docs" / "SPEC.md").read_text(encoding="utf-8")
    success, failures = _status_codes()
    missing = sorted(c for c in success | failures if f"`{c}`" not in spec)
    assert not missing
