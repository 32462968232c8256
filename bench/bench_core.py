"""The format core in-process: verify one seal, seal one claim, canonicalise a claim.

    python -m bench.bench_core            # 7 repeats of ~0.3 s loops per operation
    python -m bench.bench_core --quick    # 5 repeats of ~0.1 s

Every operation is timed timeit-style (a loop count found by ``Timer.autorange``, then
several timed loops, garbage collector on, operations interleaved round by round) in
this process's CPU time (``--timer wall`` for the wall clock: on a shared VM it also
counts time other tenants take); the table shows the median time per operation and the
ceiling measured in the same run:

* offline verification of one seal with the content digest precomputed (no media
  hashing): ``sceau.verify_seal`` vs a raw Ed25519 verify (pyca/cryptography) of the same
  PAE bytes with the public key already loaded;
* sealing: ``build_claim`` + ``seal_claim`` + ``Envelope.to_bytes`` vs a raw Ed25519 sign
  of the same PAE bytes;
* canonicalisation of a ~2 KB claim: ``sceau.canonicalize`` vs ``rfc8785.dumps`` (the
  reference pure-Python JCS), with ``json.dumps(sort_keys=True)`` (the C encoder alone)
  for scale.

Steps of verify and seal are timed one by one too, to show where the time goes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import rfc8785

from bench._common import (
    calibrate,
    median,
    print_table,
    time_per_op,
    verdict,
    write_result,
)
from sceau import (
    ContentDigest,
    KeyRing,
    LocalSigner,
    build_claim,
    canonicalize,
    parse_envelope,
    read_claim,
    seal_claim,
    verify_seal,
)
from sceau.claimtemplate import ClaimTemplate
from sceau.envelope import pae, sign_envelope
from sceau.strictjson import loads

NAME = "bench_core"
VERIFY_TARGET_US = 1000.0
NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
TENANT = "newsroom"


def service_claim(signer: LocalSigner, content: bytes = b"photo") -> dict[str, Any]:
    """A claim like the service issues for ``POST /v1/seals`` with a title."""
    return build_claim(sha256=hashlib.sha256(content).digest(), size=3_145_728,
                       media_type="image/jpeg", tenant=TENANT, keyid=signer.keyid,
                       created=NOW, title="photo.jpg", generator=("sceau-service", "0.1.0"))


def large_claim(signer: LocalSigner) -> dict[str, Any]:
    """A ~2 KB claim: edits, authors, publisher, software agent, four ingredients."""
    return build_claim(
        sha256=hashlib.sha256(b"edited").digest(), size=8_388_608, media_type="image/jpeg",
        tenant=TENANT, keyid=signer.keyid, created=NOW,
        title="Crue de la Loire à Tours — 2026-01-01.jpg",
        generator=("sceau-service", "0.1.0"),
        first_action="c2pa.opened", digital_source_type="digitalCapture",
        software_agent={"name": "Camera app", "version": "1.2"},
        extra_actions=[
            {"action": "c2pa.edited", "when": "2026-01-01T11:58:00Z",
             "softwareAgent": {"name": "Editor", "version": "3.4"}},
            {"action": "c2pa.color_adjustments"}, {"action": "c2pa.cropped"}],
        ingredients=[{"relationship": "parentOf" if i == 0 else "componentOf",
                      "dc:title": f"raw-{i}.dng",
                      "seal_id": hashlib.sha256(b"s%d" % i).hexdigest(),
                      "sha256": hashlib.sha256(b"c%d" % i).hexdigest()} for i in range(4)],
        author=["Jane Doe", "Jean Dupont", "Élodie Martin"], publisher="Example News")


def measure(ops: dict[str, Callable[[], object]], repeats: int, min_time: float,
            timer: str) -> dict[str, dict[str, Any]]:
    """Median seconds per call of each operation.  Loop counts are calibrated once; then
    each round times one loop of every operation, so machine noise hits all alike."""
    numbers = {name: calibrate(fn, min_time, timer) for name, fn in ops.items()}
    samples: dict[str, list[float]] = {name: [] for name in ops}
    for _ in range(repeats):
        for name, fn in ops.items():
            samples[name].extend(time_per_op(fn, numbers[name], timer=timer))
    return {name: {"us_per_op": median(s) * 1e6, "ops_per_s": 1 / median(s),
                   "loops": numbers[name], "samples_us": [x * 1e6 for x in s]}
            for name, s in samples.items()}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; print tables; write the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter loops")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--timer", choices=("cpu", "wall"), default="cpu",
                        help="cpu: this process's CPU time (default; robust on a shared "
                             "machine); wall: the wall clock")
    args = parser.parse_args(argv)
    repeats = args.repeats or (5 if args.quick else 7)
    min_time = 0.1 if args.quick else 0.3

    signer = LocalSigner.from_seed(hashlib.sha256(b"bench").digest())
    ring = KeyRing([signer.record(TENANT)])
    public = signer.record(TENANT).verifier()

    # -- verification ----------------------------------------------------------------
    claim = service_claim(signer)
    envelope = seal_claim(claim, signer)
    seal = envelope.to_bytes()
    message = pae(envelope.payload_type, envelope.payload)
    sig = envelope.signatures[0].sig
    digest = ContentDigest("sha256", hashlib.sha256(b"photo").digest(), 3_145_728)
    verdict_ = verify_seal(seal, ring, now=NOW, content=digest)
    assert verdict_.ok and verdict_.integrity.value == "match", verdict_
    record = ring[signer.keyid]
    payload_obj = loads(envelope.payload)

    verify_ops: dict[str, Callable[[], object]] = {
        "sceau.verify_seal (envelope bytes)":
            lambda: verify_seal(seal, ring, now=NOW, content=digest),
        "Ed25519 verify, key loaded (ceiling)": lambda: public.verify(sig, message),
        "  step: parse_envelope": lambda: parse_envelope(seal),
        "  step: load key + Ed25519 verify": lambda: record.verifier().verify(sig, message),
        "  step: strict loads(payload)": lambda: loads(envelope.payload),
        "  step: canonicalize(payload) check": lambda: canonicalize(payload_obj),
        "  step: read_claim": lambda: read_claim(payload_obj),
    }

    # -- sealing ---------------------------------------------------------------------
    def seal_once() -> bytes:
        c = build_claim(sha256=digest.digest, size=digest.size, media_type="image/jpeg",
                        tenant=TENANT, keyid=signer.keyid, created=NOW, title="photo.jpg",
                        generator=("sceau-service", "0.1.0"))
        return seal_claim(c, signer).to_bytes()

    template = ClaimTemplate(with_title=True, tenant=TENANT, keyid=signer.keyid,
                             generator=("sceau-service", "0.1.0"))

    def seal_fast() -> bytes:  # the service's path (sceau_service.sealing)
        payload = template.render(sha256=digest.digest, size=digest.size,
                                  media_type="image/jpeg", created=NOW, title="photo.jpg")
        return sign_envelope(payload, signer).to_bytes()

    assert loads(seal_fast()).keys() == loads(seal).keys()
    key = signer._key  # the raw pyca key, for the ceiling only
    seal_ops: dict[str, Callable[[], object]] = {
        "build_claim + seal_claim + to_bytes": seal_once,
        "ClaimTemplate.render + sign + to_bytes (service)": seal_fast,
        "Ed25519 sign (ceiling)": lambda: key.sign(message),
        "  step: build_claim (validates)": lambda: build_claim(
            sha256=digest.digest, size=digest.size, media_type="image/jpeg", tenant=TENANT,
            keyid=signer.keyid, created=NOW, title="photo.jpg",
            generator=("sceau-service", "0.1.0")),
        "  step: canonicalize(claim)": lambda: canonicalize(claim),
        "  step: Envelope.to_bytes": envelope.to_bytes,
        "  step: ClaimTemplate.render": lambda: template.render(
            sha256=digest.digest, size=digest.size, media_type="image/jpeg", created=NOW,
            title="photo.jpg"),
        "  step: canonicalize(envelope.to_json()) (reference)":
            lambda: canonicalize(envelope.to_json()),
    }

    # -- canonicalisation ------------------------------------------------------------
    big = large_claim(signer)
    big_bytes = canonicalize(big)
    assert big_bytes == rfc8785.dumps(big), "sceau.canonicalize differs from rfc8785"
    canon_ops: dict[str, Callable[[], object]] = {
        "sceau.canonicalize": lambda: canonicalize(big),
        "rfc8785.dumps (reference JCS)": lambda: rfc8785.dumps(big),
        "json.dumps sort_keys (C encoder only)": lambda: json.dumps(
            big, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode(),
    }

    print(f"timing: {repeats} rounds, ~{min_time} s loops, {args.timer} time ...", flush=True)
    verify_r = measure(verify_ops, repeats, min_time, args.timer)
    seal_r = measure(seal_ops, repeats, min_time, args.timer)
    canon_r = measure(canon_ops, repeats, min_time, args.timer)

    v_ours = verify_r["sceau.verify_seal (envelope bytes)"]
    v_ceil = verify_r["Ed25519 verify, key loaded (ceiling)"]
    s_ours = seal_r["build_claim + seal_claim + to_bytes"]
    s_ceil = seal_r["Ed25519 sign (ceiling)"]
    c_ours = canon_r["sceau.canonicalize"]
    c_ref = canon_r["rfc8785.dumps (reference JCS)"]

    def rows(res: dict[str, dict[str, Any]], ceil: dict[str, Any]) -> list[list[Any]]:
        return [[name, r["us_per_op"], r["ops_per_s"], r["ops_per_s"] / ceil["ops_per_s"]]
                for name, r in res.items()]

    print_table(f"Offline verification of one seal ({len(seal)}-byte envelope), content "
                f"digest precomputed (median of {repeats}, {args.timer} time)",
                ["operation", "µs/op", "ops/s", "vs ceiling"], rows(verify_r, v_ceil))
    print(f"  verify_seal = {v_ours['us_per_op']:.0f} µs (target < {VERIFY_TARGET_US:.0f} µs: "
          f"{verdict(v_ours['us_per_op'] < VERIFY_TARGET_US)}); "
          f"{v_ours['ops_per_s'] / v_ceil['ops_per_s']:.0%} of the raw Ed25519 verify rate")
    print_table(f"Sealing one claim ({len(envelope.payload)}-byte payload; median of "
                f"{repeats}, {args.timer} time)",
                ["operation", "µs/op", "ops/s", "vs ceiling"], rows(seal_r, s_ceil))
    print(f"  sealing = {s_ours['ops_per_s'] / s_ceil['ops_per_s']:.0%} of the raw "
          "Ed25519 sign rate")
    print_table(f"Canonicalising a {len(big_bytes)}-byte claim (JCS; median of {repeats}, "
                f"{args.timer} time)",
                ["implementation", "µs/op", "claims/s", "vs rfc8785"], rows(canon_r, c_ref))
    speedup = c_ours["ops_per_s"] / c_ref["ops_per_s"]
    print(f"  sceau.canonicalize is {speedup:.1f}x rfc8785.dumps (same bytes, checked)")

    data = {
        "timer": args.timer,
        "repeats": repeats,
        "loop_seconds": min_time,
        "verify": {"envelope_bytes": len(seal), "ops": verify_r,
                   "ratio_to_raw_verify": v_ours["ops_per_s"] / v_ceil["ops_per_s"],
                   "target_us": VERIFY_TARGET_US,
                   "target_met": v_ours["us_per_op"] < VERIFY_TARGET_US},
        "seal": {"payload_bytes": len(envelope.payload), "ops": seal_r,
                 "ratio_to_raw_sign": s_ours["ops_per_s"] / s_ceil["ops_per_s"]},
        "canonicalize": {"claim_bytes": len(big_bytes), "ops": canon_r,
                         "speedup_vs_rfc8785": speedup},
    }
    write_result(NAME, data)
    return data


if __name__ == "__main__":
    main()
