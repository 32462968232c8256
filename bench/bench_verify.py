"""``POST /v1/verify`` of a sealed 5 MB JPEG against c2pa-python's read + verify of a C2PA
JPEG of the same size, in the same run.

    python -m bench.bench_verify               # 5 MB, 30 requests per side, 5 rounds
    python -m bench.bench_verify --quick       # 10 requests per side, 3 rounds
    python -m bench.bench_verify --size 20M --reps 50

Sceau: a real server process (``sceau-service dev``, one uvicorn worker, SQLite) on
loopback; the client (httpx, one kept-alive connection) uploads the file as multipart and
reads the verdict.  The time covers the whole request: sending 5 MB over loopback, the
multipart parse streamed to a temporary file, finding the embedded seal, hashing the
content without it, verifying the seal (signature, log proof, key status), the readable
label and summary, the answer.  The server's CPU time per request is read from /proc.

c2pa-python: ``c2pa.Reader`` on the C2PA file (opened from disk, page cache warm) with the
signer's CA as trust anchor, then ``Reader.json()``: parsing the JUMBF manifest store,
validating the COSE signature and the certificate chain, hashing the asset for its data
hash.  In process: no HTTP, no upload; so the ratio states what a whole verification over
HTTP costs against the bare library call.

Both files are the same noisy picture (``bench_media.make_jpeg``), one sealed by the
service, one signed by c2pa-python with an Ed25519 test chain (thumbnails off).  The two
sides alternate request by request, so a load change on the machine hits both.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench._common import median, print_table, write_result
from bench._server import start_service, stop
from bench.bench_media import make_c2pa_keys, make_jpeg

NAME = "bench_verify"
MB = 1_000_000


def _size(text: str) -> int:
    units = {"K": 1_000, "M": MB, "G": 1_000 * MB}
    return int(float(text[:-1]) * units[text[-1].upper()]) if text[-1].isalpha() else int(text)


def _c2pa_file(plain: Path, keydir: Path) -> tuple[Path, str]:
    """``plain`` signed by c2pa-python; returns the file and the CA (trust anchor) PEM."""
    import c2pa
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    make_c2pa_keys(keydir)
    chain = (keydir / "chain.pem").read_bytes()
    anchor = x509.load_pem_x509_certificates(chain)[-1].public_bytes(
        serialization.Encoding.PEM).decode("ascii")
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(
        c2pa.C2paSigningAlg.ED25519, chain, (keydir / "key.pem").read_bytes(), None))
    manifest = {"claim_generator_info": [{"name": "bench", "version": "1"}], "title": "bench",
                "assertions": [{"label": "c2pa.actions", "data": {"actions": [{
                    "action": "c2pa.created", "digitalSourceType":
                    "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"}]}}]}
    context = c2pa.Context(c2pa.Settings.from_dict(
        {"builder": {"thumbnail": {"enabled": False}}}))
    out = plain.with_suffix(".c2pa.jpg")
    with open(plain, "rb") as src, open(out, "w+b") as dest:
        c2pa.Builder(manifest, context=context).sign(signer, "image/jpeg", src, dest)
    return out, anchor


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; print a table and write ``bench/results/bench_verify.json``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests and rounds")
    parser.add_argument("--size", default="5M", help="JPEG size (default 5M)")
    parser.add_argument("--reps", type=int, default=None, help="requests per side per round")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (medians of each)")
    args = parser.parse_args(argv)
    reps = args.reps or (10 if args.quick else 30)
    rounds = args.rounds or (3 if args.quick else 5)
    import c2pa

    from sceau import Client
    from sceau.media import seal_file

    with tempfile.TemporaryDirectory(prefix="sceau-bench-verify-") as tmp:
        work = Path(tmp)
        plain = work / "photo.jpg"
        make_jpeg(plain, _size(args.size))
        c2pa_path, anchor = _c2pa_file(plain, work)
        sealed = work / "sealed.jpg"
        sealed.write_bytes(plain.read_bytes())
        server = start_service(work, extra_env={"SCEAU_UPLOAD_DIR": str(work / "uploads")})
        try:
            with Client(server.url, server.token) as client:
                seal_file(client, sealed, digital_source_type="digitalCapture")
            data = sealed.read_bytes()
            context = c2pa.Context(c2pa.Settings.from_dict({
                "verify": {"verify_trust": True, "remote_manifest_fetch": False,
                           "ocsp_fetch": False},
                "trust": {"trust_anchors": anchor}}))

            def c2pa_verify() -> str:
                with open(c2pa_path, "rb") as f, c2pa.Reader("image/jpeg", f,
                                                              context=context) as reader:
                    state = json.loads(reader.json())["validation_state"]
                    return str(state)

            with httpx.Client(base_url=server.url, timeout=60) as http:
                def sceau_verify() -> dict[str, Any]:
                    r = http.post("/v1/verify",
                                  files={"file": ("sealed.jpg", io.BytesIO(data),
                                                  "image/jpeg")})
                    r.raise_for_status()
                    doc: dict[str, Any] = r.json()
                    return doc

                first = sceau_verify()
                assert first["ok"] and first["label"] == "captured", first
                assert c2pa_verify() == "Trusted"
                per_round: list[dict[str, float]] = []
                for _ in range(rounds):
                    ours: list[float] = []
                    theirs: list[float] = []
                    cpu0 = server.cpu_seconds()
                    for _ in range(reps):
                        t0 = time.perf_counter()
                        sceau_verify()
                        ours.append(time.perf_counter() - t0)
                        t0 = time.perf_counter()
                        c2pa_verify()
                        theirs.append(time.perf_counter() - t0)
                    cpu = (server.cpu_seconds() - cpu0) / reps
                    per_round.append({"sceau_ms": median(ours) * 1e3,
                                      "c2pa_ms": median(theirs) * 1e3,
                                      "server_cpu_ms": cpu * 1e3})
        finally:
            stop(server)
        sizes = {"sealed_bytes": sealed.stat().st_size, "c2pa_bytes": c2pa_path.stat().st_size}
        uploads_left = list((work / "uploads").iterdir()) if (work / "uploads").exists() else []

    sceau_ms = median([r["sceau_ms"] for r in per_round])
    c2pa_ms = median([r["c2pa_ms"] for r in per_round])
    cpu_ms = median([r["server_cpu_ms"] for r in per_round])
    spread = statistics.pstdev([r["sceau_ms"] for r in per_round]) if rounds > 1 else 0.0
    rows = [[f"round {i + 1}", r["sceau_ms"], r["server_cpu_ms"], r["c2pa_ms"],
             r["sceau_ms"] / r["c2pa_ms"]] for i, r in enumerate(per_round)]
    rows.append(["median", sceau_ms, cpu_ms, c2pa_ms, sceau_ms / c2pa_ms])
    print_table(f"Verify a {sizes['sealed_bytes'] / MB:.1f} MB JPEG ({reps} requests per "
                f"side per round, medians; ms)",
                ["", "POST /v1/verify", "server CPU", "c2pa Reader", "ratio"], rows)
    result = {"reps": reps, "rounds": rounds, **sizes, "rounds_detail": per_round,
              "sceau_http_ms_median": sceau_ms, "server_cpu_ms_median": cpu_ms,
              "c2pa_reader_ms_median": c2pa_ms, "ratio_sceau_over_c2pa": sceau_ms / c2pa_ms,
              "sceau_round_stdev_ms": spread, "upload_temp_files_left": len(uploads_left)}
    write_result(NAME, result)
    return result


if __name__ == "__main__":
    main()
