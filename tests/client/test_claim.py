"""The claim (docs/SPEC.md §4): what build_claim writes and what read_claim accepts."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from copy import deepcopy
from datetime import UTC, datetime
from typing import Any

import pytest

from sceau.claim import (
    IPTC_DST_PREFIX,
    ClaimError,
    build_claim,
    digital_source_type_uri,
    read_claim,
)
from sceau.errors import ValidationError
from sceau.local import LocalSigner

MakeClaim = Callable[..., dict[str, Any]]


def _binding(obj: dict[str, Any]) -> dict[str, Any]:
    return next(a["data"] for a in obj["assertions"] if a["label"] == "c2pa.hash.data")


def _actions(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return next(a["data"] for a in obj["assertions"]
                if a["label"] == "c2pa.actions.v2")["actions"]


def _status(obj: Any) -> str:
    with pytest.raises(ClaimError) as info:
        read_claim(obj)
    return info.value.status


def test_build_claim_layout(signer: LocalSigner, make_claim: MakeClaim) -> None:
    obj = make_claim(signer, title="t.jpg", author=["A. Author"], publisher="Example News",
                     software_agent={"name": "Cam", "version": "1"})
    assert list(obj) == ["claim_generator_info", "instanceID", "dc:format", "signer",
                         "created", "assertions", "dc:title"]
    assert obj["signer"] == {"tenant": "example-news", "keyid": signer.keyid}
    labels = [a["label"] for a in obj["assertions"]]
    assert labels == ["c2pa.actions.v2", "c2pa.hash.data", "stds.schema-org.CreativeWork"]
    assert _actions(obj)[0] == {
        "action": "c2pa.created", "when": "2026-03-14T09:26:53Z",
        "digitalSourceType": IPTC_DST_PREFIX + "digitalCapture",
        "softwareAgent": {"name": "Cam", "version": "1"}}
    assert _binding(obj)["exclusions"] == []
    claim = read_claim(obj)
    assert claim.tenant == "example-news" and claim.title == "t.jpg"
    assert claim.created == datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)
    assert claim.digital_source_type == IPTC_DST_PREFIX + "digitalCapture"


def test_build_claim_makes_a_fresh_instance_id(signer: LocalSigner) -> None:
    args: dict[str, Any] = {"sha256": bytes(32), "size": 0, "media_type": "image/png",
                            "tenant": "t", "keyid": signer.keyid,
                            "created": datetime(2026, 1, 1, tzinfo=UTC)}
    first, second = build_claim(**args), build_claim(**args)
    assert first["instanceID"] != second["instanceID"]
    assert first["instanceID"].startswith("xmp:iid:")


def test_digital_source_types() -> None:
    uri = IPTC_DST_PREFIX + "trainedAlgorithmicMedia"
    assert digital_source_type_uri("trainedAlgorithmicMedia") == uri
    assert digital_source_type_uri(uri) == uri
    for bad in ["madeUp", IPTC_DST_PREFIX + "madeUp", "https://example.com/dst"]:
        with pytest.raises(ValidationError):
            digital_source_type_uri(bad)


MUTATIONS: list[tuple[str, Callable[[dict[str, Any]], Any], str]] = [
    ("not an object", lambda o: o.clear() or o.update(x=1), "claim.malformed"),
    ("no generator", lambda o: o.pop("claim_generator_info"), "claim.malformed"),
    ("bad instanceID", lambda o: o.update(instanceID="xmp:iid:NOT-A-UUID"), "claim.malformed"),
    ("bad media type", lambda o: o.update({"dc:format": "JPEG"}), "claim.malformed"),
    ("null title", lambda o: o.update({"dc:title": None}), "claim.malformed"),
    ("empty title", lambda o: o.update({"dc:title": ""}), "claim.malformed"),
    ("long title", lambda o: o.update({"dc:title": "x" * 1025}), "claim.malformed"),
    ("bad tenant", lambda o: o["signer"].update(tenant="Example News"), "claim.malformed"),
    ("no keyid", lambda o: o["signer"].pop("keyid"), "claim.malformed"),
    ("bad created", lambda o: o.update(created="2026-03-14T09:26:53+01:00"), "claim.malformed"),
    ("assertions not array", lambda o: o.update(assertions={}), "claim.malformed"),
    ("assertion extra member",
     lambda o: o["assertions"][0].update(kind="x"), "claim.malformed"),
    ("assertion bad label",
     lambda o: o["assertions"].append({"label": "nolabel", "data": {}}), "claim.malformed"),
    ("no hard binding", lambda o: o["assertions"].pop(1), "claim.hardBindings.missing"),
    ("two hard bindings",
     lambda o: o["assertions"].append(deepcopy(o["assertions"][1])),
     "assertion.multipleHardBindings"),
    ("chunked binding without members",
     lambda o: o["assertions"].__setitem__(1, {"label": "sceau.hash.chunked", "data": {}}),
     "assertion.dataHash.malformed"),
    ("bmff binding unsupported",
     lambda o: o["assertions"].__setitem__(1, {"label": "c2pa.hash.bmff.v3", "data": {}}),
     "algorithm.unsupported"),
    ("alg unsupported", lambda o: _binding(o).update(alg="md5"), "algorithm.unsupported"),
    ("alg missing", lambda o: _binding(o).pop("alg"), "assertion.dataHash.malformed"),
    ("alg unhashable", lambda o: _binding(o).update(alg=["sha256"]),
     "assertion.dataHash.malformed"),
    ("alg object", lambda o: _binding(o).update(alg={"name": "sha256"}),
     "assertion.dataHash.malformed"),
    ("hash uppercase", lambda o: _binding(o).update(hash=_binding(o)["hash"].upper()),
     "assertion.dataHash.malformed"),
    ("hash not string", lambda o: _binding(o).update(hash=7), "assertion.dataHash.malformed"),
    ("size negative", lambda o: _binding(o).update(size=-1), "assertion.dataHash.malformed"),
    ("size bool", lambda o: _binding(o).update(size=True), "assertion.dataHash.malformed"),
    ("exclusion shape", lambda o: _binding(o).update(exclusions=[{"start": 0}]),
     "assertion.dataHash.malformed"),
    ("exclusion empty", lambda o: _binding(o).update(exclusions=[{"start": 0, "length": 0}]),
     "assertion.dataHash.malformed"),
    ("exclusion beyond size",
     lambda o: _binding(o).update(exclusions=[{"start": 1, "length": _binding(o)["size"]}]),
     "assertion.dataHash.malformed"),
    ("exclusions unsorted",
     lambda o: _binding(o).update(exclusions=[{"start": 5, "length": 1},
                                              {"start": 0, "length": 1}]),
     "assertion.dataHash.malformed"),
    ("binding not object", lambda o: o["assertions"][1].update(data=[]),
     "assertion.dataHash.malformed"),
    ("no actions", lambda o: o["assertions"].pop(0), "assertion.action.malformed"),
    ("two actions assertions", lambda o: o["assertions"].append(deepcopy(o["assertions"][0])),
     "assertion.action.malformed"),
    ("empty actions", lambda o: _actions(o).clear(), "assertion.action.malformed"),
    ("first action edited", lambda o: _actions(o)[0].update(action="c2pa.edited"),
     "assertion.action.malformed"),
    ("bad action name", lambda o: _actions(o).append({"action": "Edited"}),
     "assertion.action.malformed"),
    ("created without dst", lambda o: _actions(o)[0].pop("digitalSourceType"),
     "assertion.action.malformed"),
    ("created with null dst", lambda o: _actions(o)[0].update(digitalSourceType=None),
     "assertion.action.malformed"),
    ("dst not a URI", lambda o: _actions(o)[0].update(digitalSourceType="digitalCapture"),
     "assertion.action.malformed"),
    ("later action null dst",
     lambda o: _actions(o).append({"action": "c2pa.edited", "digitalSourceType": None}),
     "assertion.action.malformed"),
    ("bad when", lambda o: _actions(o)[0].update(when="yesterday"),
     "assertion.action.malformed"),
    ("opened without parent", lambda o: _actions(o)[0].update(action="c2pa.opened"),
     "assertion.action.malformed"),
    ("ingredient relationship",
     lambda o: o["assertions"].append({"label": "c2pa.ingredient.v3",
                                       "data": {"relationship": "cousinOf"}}),
     "assertion.ingredient.malformed"),
    ("ingredient relationship unhashable",
     lambda o: o["assertions"].append({"label": "c2pa.ingredient.v3",
                                       "data": {"relationship": ["parentOf"]}}),
     "assertion.ingredient.malformed"),
    ("ingredient null title",
     lambda o: o["assertions"].append({"label": "c2pa.ingredient.v3",
                                       "data": {"relationship": "inputTo", "dc:title": None}}),
     "assertion.ingredient.malformed"),
]


@pytest.mark.parametrize(("why", "mutate", "status"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_rule(signer: LocalSigner, make_claim: MakeClaim, why: str,
              mutate: Callable[[dict[str, Any]], Any], status: str) -> None:
    obj = make_claim(signer)
    mutate(obj)
    assert _status(obj) == status, why


@pytest.mark.parametrize("obj", [[], "claim", None, 1])
def test_not_an_object(obj: Any) -> None:
    assert _status(obj) == "claim.malformed"


def test_opened_with_parent_and_unknown_members(signer: LocalSigner,
                                                make_claim: MakeClaim) -> None:
    obj = make_claim(signer, first_action="c2pa.opened", digital_source_type=None,
                     ingredients=[{"relationship": "parentOf", "dc:title": "raw.dng"}])
    obj["com.example.extra"] = {"anything": [1, None]}
    obj["assertions"].append({"label": "com.example.note", "data": "free"})
    claim = read_claim(obj)
    assert claim.digital_source_type is None
    assert [i["relationship"] for i in claim.ingredients] == ["parentOf"]
    assert claim.raw["com.example.extra"] == {"anything": [1, None]}


def test_exclusions_that_follow_the_rules(signer: LocalSigner, make_claim: MakeClaim) -> None:
    obj = make_claim(signer)
    _binding(obj)["exclusions"] = [{"start": 0, "length": 2}, {"start": 2, "length": 3},
                                   {"start": 10, "length": _binding(obj)["size"] - 10}]
    assert read_claim(obj).binding.exclusions == ((0, 2), (2, 3), (10, _binding(obj)["size"] - 10))
    del _binding(obj)["exclusions"]
    assert read_claim(obj).binding.exclusions == ()


def test_binding_values(signer: LocalSigner, make_claim: MakeClaim) -> None:
    binding = read_claim(make_claim(signer, sha256=hashlib.sha256(b"x").digest(),
                                    size=1)).binding
    assert (binding.alg, binding.digest, binding.size) == (
        "sha256", hashlib.sha256(b"x").digest(), 1)


def test_instance_ids_are_uuid4_and_differ_across_threads_and_forks() -> None:
    import os
    import threading
    import uuid

    from sceau.claim import new_instance_id

    ids = [new_instance_id() for _ in range(600)]  # crosses the 256-id random blocks
    for iid in ids:
        parsed = uuid.UUID(iid.removeprefix("xmp:iid:"))
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        assert str(parsed) == iid.removeprefix("xmp:iid:")
    other: list[str] = []
    thread = threading.Thread(target=lambda: other.extend(new_instance_id()
                                                          for _ in range(300)))
    thread.start()
    thread.join()
    assert len(set(ids) | set(other)) == 900
    # A forked child must not repeat the bytes its parent hands out next.
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write, new_instance_id().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 100).decode()
    os.close(read)
    assert child.startswith("xmp:iid:") and child != new_instance_id()
