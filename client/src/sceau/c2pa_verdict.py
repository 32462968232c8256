"""Standard C2PA manifests, read with c2pa-python and told as a Sceau verdict.

Optional: needs the extra ``sceau[c2pa]`` (c2pa-python), imported only when a file is
read.  :func:`read_c2pa` reads a file's manifest store with ``c2pa.Reader`` (never
fetching a remote manifest or OCSP answer) and :func:`verdict_from_store` maps the store's
JSON into the same shape as :func:`sceau.readable.report`: the C2PA validation codes as
``status_codes``, the axes (signature, integrity, signer, time), a rubric ``label`` from
the active manifest's actions and ingredients, and one ``summary``.  The mapping is pure.

Trust is the caller's: a PEM bundle of the certificate authorities it trusts
(``trust_anchors``).  Without one, no C2PA signer is trusted.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from importlib import import_module
from types import ModuleType
from typing import IO, Any

from sceau.errors import DependencyMissingError, MalformedMediaError
from sceau.readable import (
    OriginLabel,
    label_for_actions,
    label_text,
    summary_for,
)

__all__ = [
    "C2PA_MEDIA_TYPES",
    "NOT_VALIDATED",
    "c2pa_available",
    "read_c2pa",
    "verdict_from_store",
]

#: Media types (as :func:`sceau.mediatype.sniff` names them) read for C2PA manifests.
C2PA_MEDIA_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "video/mp4",
                              "video/quicktime", "image/avif", "image/heic", "image/heif",
                              "audio/mp4"})

_ACTIONS_LABELS = ("c2pa.actions", "c2pa.actions.v2")
_SIGNATURE_OK = "claimSignature.validated"
_SIGNATURE_BAD = frozenset({"claimSignature.mismatch"})
_SIGNATURE_MALFORMED = frozenset({"claimSignature.missing", "claimSignature.malformed",
                                  "algorithm.unsupported"})
_HASH_MATCH = frozenset({"assertion.dataHash.match", "assertion.bmffHash.match",
                         "assertion.boxesHash.match"})
_HASH_MISMATCH = frozenset({"assertion.dataHash.mismatch", "assertion.bmffHash.mismatch",
                            "assertion.boxesHash.mismatch"})
#: Status code (Sceau's) for a store whose results do not say its signature validated.
NOT_VALIDATED = "sceau.c2pa.notValidated"
_TIME_OK = frozenset({"timeStamp.validated", "timeStamp.trusted"})
_MAX_DEPTH = 8


def _c2pa() -> ModuleType:
    try:
        return import_module("c2pa")
    except ImportError:
        raise DependencyMissingError(
            "reading C2PA manifests needs c2pa-python: pip install 'sceau[c2pa]'") from None


def c2pa_available() -> bool:
    """Whether c2pa-python can be imported."""
    try:
        _c2pa()
    except DependencyMissingError:
        return False
    return True


def _settings(trust_anchors: str | None) -> dict[str, Any]:
    verify: dict[str, Any] = {"verify_trust": True, "remote_manifest_fetch": False,
                              "ocsp_fetch": False}
    doc: dict[str, Any] = {"verify": verify}
    if trust_anchors:
        doc["trust"] = {"trust_anchors": trust_anchors}
    return doc


def read_c2pa(source: IO[bytes] | bytes, media_type: str, *, trust_anchors: str | None = None,
              lang: str = "en") -> dict[str, Any] | None:
    """The verdict for the C2PA manifest store in ``source``, or ``None`` without one.

    ``media_type`` is the container's type from its bytes; ``trust_anchors`` a PEM bundle
    of trusted CA certificates.  Raises :class:`~sceau.errors.MalformedMediaError` when
    c2pa-python cannot parse the file or its manifest store, and
    :class:`~sceau.errors.DependencyMissingError` without c2pa-python.
    """
    c2pa = _c2pa()
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        context = c2pa.Context(c2pa.Settings.from_dict(_settings(trust_anchors)))
    except c2pa.C2paError as exc:
        raise ValueError(f"C2PA trust anchors are not a usable PEM bundle: {exc}") from None
    try:
        reader = c2pa.Reader.try_create(media_type, stream, context=context)
        if reader is None:
            return None
        with reader:
            store = json.loads(reader.json())
    except c2pa.C2paError as exc:
        raise MalformedMediaError(f"C2PA: {str(exc)[:200]}") from None
    except ValueError as exc:  # the store's JSON
        raise MalformedMediaError(f"C2PA manifest store: {exc}") from None
    return verdict_from_store(store, lang)


def _codes(entries: Any) -> list[str]:
    if not isinstance(entries, list):
        return []
    return [e["code"] for e in entries
            if isinstance(e, Mapping) and isinstance(e.get("code"), str)]


def _actions(manifest: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    for assertion in manifest.get("assertions") or ():
        if isinstance(assertion, Mapping) and assertion.get("label") in _ACTIONS_LABELS:
            data = assertion.get("data")
            actions = data.get("actions") if isinstance(data, Mapping) else None
            if isinstance(actions, list):
                return [a for a in actions if isinstance(a, Mapping)]
    return []


def _label(manifests: Mapping[str, Any], key: Any, depth: int) -> OriginLabel | None:
    """A manifest's rubric label, its ingredients' (that carry manifests) included."""
    manifest = manifests.get(key) if isinstance(key, str) else None
    if not isinstance(manifest, Mapping) or depth > _MAX_DEPTH:
        return None
    actions = _actions(manifest)
    if not actions:
        return None
    known: list[OriginLabel] = []
    for ingredient in manifest.get("ingredients") or ():
        if isinstance(ingredient, Mapping):
            label = _label(manifests, ingredient.get("active_manifest"), depth + 1)
            if label is not None:
                known.append(label)
    return label_for_actions(actions, known)


def _results(store: Mapping[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """(success, informational, failure) codes of the active manifest."""
    results = store.get("validation_results")
    active = results.get("activeManifest") if isinstance(results, Mapping) else None
    if isinstance(active, Mapping):
        return (_codes(active.get("success")), _codes(active.get("informational")),
                _codes(active.get("failure")))
    # Older stores: only the failures, as validation_status.
    return [], [], _codes(store.get("validation_status"))


def verdict_from_store(store: Mapping[str, Any], lang: str = "en") -> dict[str, Any]:
    """Map a C2PA manifest store (``c2pa.Reader.json()``) to a Sceau-shaped verdict."""
    success, info, failures = _results(store)
    manifests = store.get("manifests")
    manifests = manifests if isinstance(manifests, Mapping) else {}
    active_key = store.get("active_manifest")
    active = manifests.get(active_key) if isinstance(active_key, str) else None
    active = active if isinstance(active, Mapping) else {}
    if active_key is None or not active:
        failures = failures or ["claim.missing"]
    found = set(success) | set(failures)
    if found & _SIGNATURE_BAD:
        signature = "invalid"
    elif found & _SIGNATURE_MALFORMED:
        signature = "malformed"
    elif _SIGNATURE_OK in success:
        signature = "valid"
    else:
        signature = "not_checked"
        if not failures:  # a store that reports no validation of its signature at all
            failures = [NOT_VALIDATED]
    if set(failures) & _HASH_MISMATCH:
        integrity = "mismatch"
    elif set(success) & _HASH_MATCH:
        integrity = "match"
    else:
        integrity = "not_checked"
    trusted = "signingCredential.trusted" in success
    if "signingCredential.ocsp.revoked" in failures or "signingCredential.revoked" in failures:
        key_status = "revoked"
    elif "signingCredential.expired" in failures:
        key_status = "expired"
    elif signature == "valid":
        key_status = "active"
    else:
        key_status = "unknown"
    info_block = active.get("signature_info")
    sig_info: Mapping[str, Any] = info_block if isinstance(info_block, Mapping) else {}
    signed_time = sig_info.get("time") if isinstance(sig_info.get("time"), str) else None
    attested = signed_time is not None and bool(set(success) & _TIME_OK)
    ordered = _unique([*success, *info, *failures])
    label = _label(manifests, active_key, 0) if signature == "valid" else None
    generator = active.get("claim_generator_info") or active.get("claim_generator")
    return {
        "ok": not failures,
        "seal_id": None,
        "status_codes": ordered,
        "signature": signature,
        "integrity": integrity,
        "signer": {
            "keyid": None,
            "tenant": None,
            "trusted": trusted,
            "key_status": key_status,
            "name": _text(sig_info.get("common_name")),
            "issuer": _text(sig_info.get("issuer")),
            "alg": _text(sig_info.get("alg")),
        },
        "time": {
            "signer_time": None if attested else signed_time,
            "trusted_time": signed_time if attested else None,
            "attested": attested,
        },
        "log": None,
        "claim": None,
        "source": "c2pa",
        "c2pa": {
            "validation_state": _text(store.get("validation_state")),
            "active_manifest": _text(active_key),
            "title": _text(active.get("title")),
            "claim_generator": generator if isinstance(generator, list | str) else None,
            "actions": [dict(a) for a in _actions(active)],
            "failures": failures,
        },
        "summary": summary_for(failures, matched=integrity == "match", lang=lang,
                               verified_key="verified.c2pa"),
        "label": None if label is None else label.value,
        "label_text": label_text(label, lang),
        "lang": lang,
    }


def _text(value: Any) -> str | None:
    return value[:512] if isinstance(value, str) else None


def _unique(codes: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(codes))
