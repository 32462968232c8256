"""Seal + embed and verify media files: Sceau against c2pa-python, in the same run.

    python -m bench.bench_media                 # 5 MB JPEG, 25 MB PNG, 50 MB + 1 GB MP4
    python -m bench.bench_media --quick         # without the 1 GB MP4, 3 repetitions
    python -m bench.bench_media --reps 7 --dir /var/tmp
    python -m bench.bench_media --hashing-only   # only the hashing rates, on a 1 GB file

Files are generated here: a noisy 5 MB JPEG and 25 MB PNG (Pillow), and MP4 files of
MPEG-4 Part 2 intra frames (PyAV; a few distinct noise frames muxed over and over up to the
size), all decodable.  Both tools sign with Ed25519: Sceau with a local key
(``sceau.LocalSigner``: no service round trip, which the service benchmark measures
separately), c2pa-python with an Ed25519 certificate chain made here, thumbnails off.

Each measurement runs in a fresh child process (so peak RSS, ``ru_maxrss``, is that
operation's alone, read by a bare launcher through RUSAGE_CHILDREN) on a fresh copy of the
file whose pages are warm in the cache; the time is taken inside the child around the
operation only (imports and key loading excluded, for both tools).

* seal + embed: Sceau ``seal_file_locally`` (parse, hash, sign, write the region: a
  rewrite through a temporary file + fsync + rename for JPEG/PNG, an in-place append +
  fsync for MP4), c2pa-python ``Builder.sign`` from the file to a new file (no fsync);
  Sceau without fsync is shown too, for a like-for-like comparison.
* verify: Sceau finds the embedded seal, verifies it and hashes the content;
  c2pa-python ``Reader`` (which validates the manifest and its hash binding).
* hashing: ``sceau.hash_file`` and the chunked (Merkle) hash on 1 and 2 threads against a
  raw ``hashlib`` loop, in process, on the largest file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

from bench._common import median, print_table, verdict, write_result

NAME = "bench_media"
MB = 1_000_000
TARGET_SPEEDUP = {"jpeg-5MB": 3.0, "mp4-50MB": 4.0, "mp4-1GB": 5.0}
TARGET_RSS_1GB_MB = 64.0
TARGET_ONE_CORE = 0.95
TARGET_TWO_CORES = 1.7

# -- files -----------------------------------------------------------------------------------


def make_jpeg(path: Path, target: int) -> None:
    """A noisy JPEG of about ``target`` bytes."""
    from PIL import Image

    side = int((target / 1.2) ** 0.5 / 1.0)
    w, h = int(side * 1.33), int(side / 1.33)
    while True:
        img = Image.frombytes("RGB", (w, h), os.urandom(w * h * 3))
        img.save(path, "JPEG", quality=85)
        size = path.stat().st_size
        if abs(size - target) < target * 0.08:
            return
        scale = (target / size) ** 0.5
        w, h = int(w * scale), int(h * scale)


def make_png(path: Path, target: int) -> None:
    """A noisy (incompressible) RGB PNG of about ``target`` bytes."""
    from PIL import Image

    side = int((target / 3) ** 0.5)
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(
        path, "PNG", compress_level=1)


def make_mp4(path: Path, target: int) -> None:
    """An MP4 of MPEG-4 Part 2 intra frames (1280x720 noise, ~1.1 MB each) up to
    ``target`` bytes: 8 encoded frames muxed again and again (each a key frame)."""
    import av
    from PIL import Image

    w, h = 1280, 720
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.gop_size = 1
        stream.bit_rate = 400_000_000
        stream.codec_context.qmin, stream.codec_context.qmax = 1, 2
        packets: list[bytes] = []
        for _ in range(8):
            img = Image.frombytes("RGB", (w, h), os.urandom(w * h * 3))
            packets += [bytes(p) for p in stream.encode(av.VideoFrame.from_image(img))]
        packets += [bytes(p) for p in stream.encode()]
        total = i = 0
        while total < target:
            data = packets[i % len(packets)]
            packet = av.Packet(data)
            packet.stream = stream
            packet.pts = packet.dts = i
            packet.time_base = Fraction(1, 25)
            packet.is_keyframe = True
            out.mux(packet)
            total += len(data)
            i += 1


CASES: list[tuple[str, str, int, Any]] = [
    ("jpeg-5MB", "image/jpeg", 5 * MB, make_jpeg),
    ("png-25MB", "image/png", 25 * MB, make_png),
    ("mp4-50MB", "video/mp4", 50 * MB, make_mp4),
    ("mp4-1GB", "video/mp4", 1000 * MB, make_mp4),
]

# -- children --------------------------------------------------------------------------------

_CHILD = r'''
import json, sys, time
op, path, mime, keydir = sys.argv[1:5]
out = {}
if op.startswith("sceau"):
    from datetime import UTC, datetime
    from sceau import KeyRing, LocalSigner, verify_seal
    from sceau.media import probe, seal_file_locally
    signer = LocalSigner.from_seed(bytes(range(32)))
    if op in ("sceau-seal", "sceau-seal-nofsync"):
        start = time.perf_counter()
        result = seal_file_locally(path, signer, tenant="bench", created=datetime.now(UTC),
                                   fsync=op == "sceau-seal")
        out["seconds"] = time.perf_counter() - start
        out["seal_id"] = result.seal_id
    else:
        ring = KeyRing([signer.record("bench")])
        start = time.perf_counter()
        media = probe(path)
        found = media.embedded_seal()
        first = verify_seal(found.envelope, ring, now=datetime.now(UTC))
        binding = first.claim.binding
        digest = media.content_digest(chunked=binding.chunk_size is not None,
                                      chunk_size=binding.chunk_size)
        verdict = verify_seal(found.envelope, ring, now=datetime.now(UTC), content=digest)
        out["seconds"] = time.perf_counter() - start
        out["ok"] = verdict.ok and verdict.integrity.value == "match"
        out["chunked"] = binding.chunk_size is not None
else:
    import c2pa
    if op == "c2pa-seal":
        chain = open(keydir + "/chain.pem", "rb").read()
        key = open(keydir + "/key.pem", "rb").read()
        signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(
            c2pa.C2paSigningAlg.ED25519, chain, key, None))
        manifest = {"claim_generator_info": [{"name": "bench", "version": "1"}],
                    "title": "bench", "assertions": [{"label": "c2pa.actions", "data": {
                        "actions": [{"action": "c2pa.created", "digitalSourceType":
                            "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"}
                        ]}}]}
        context = c2pa.Context(c2pa.Settings.from_dict(
            {"builder": {"thumbnail": {"enabled": False}}}))
        start = time.perf_counter()
        builder = c2pa.Builder(manifest, context=context)
        with open(path, "rb") as src, open(path + ".c2pa", "w+b") as dest:
            builder.sign(signer, mime, src, dest)
        out["seconds"] = time.perf_counter() - start
    else:
        start = time.perf_counter()
        with open(path, "rb") as f:
            reader = c2pa.Reader(mime, f)
            state = reader.get_validation_state()
        out["seconds"] = time.perf_counter() - start
        out["ok"] = state in ("Valid", "Trusted")
print(json.dumps(out))
'''

# Linux carries ru_maxrss across exec, so the children are started by a bare launcher and
# their peak is read with getrusage(RUSAGE_CHILDREN) (as bench_hashing does).
_LAUNCHER = r'''
import json, resource, subprocess, sys
out = json.loads(subprocess.run(sys.argv[1:], check=True, stdout=subprocess.PIPE).stdout)
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps(out))
'''


def run_child(op: str, path: Path, mime: str, keydir: Path) -> dict[str, Any]:
    """One measured operation in a fresh process."""
    child = [sys.executable, "-c", _CHILD, op, str(path), mime, str(keydir)]
    out = subprocess.run([sys.executable, "-S", "-c", _LAUNCHER, *child], check=True,
                         stdout=subprocess.PIPE).stdout
    result: dict[str, Any] = json.loads(out)
    return result


def warm(path: Path) -> None:
    """Read the file once so its pages are in the cache."""
    with open(path, "rb", buffering=0) as f:
        buf = bytearray(8 << 20)
        while f.readinto(buf):
            pass


def fresh_copy(src: Path, dst: Path) -> Path:
    """A copy of ``src`` (fsync'ed, then warm), so no run sees another's output."""
    shutil.copyfile(src, dst)
    with open(dst, "rb+") as f:
        os.fsync(f.fileno())
    warm(dst)
    return dst


# -- c2pa test credentials -------------------------------------------------------------------


def make_c2pa_keys(keydir: Path) -> None:
    """An Ed25519 CA and end-entity certificate for c2pa-python (test only)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    flags = dict.fromkeys(("digital_signature", "content_commitment", "key_encipherment",
                           "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign",
                           "encipher_only", "decipher_only"), False)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Sceau bench")])

    def cert(subject: str, issuer: x509.Name, key: Any, signer: Any, ca: bool) -> Any:
        b = (x509.CertificateBuilder()
             .subject_name(name(subject))
             .issuer_name(issuer).public_key(key.public_key())
             .serial_number(x509.random_serial_number())
             .not_valid_before(now - dt.timedelta(days=1))
             .not_valid_after(now + dt.timedelta(days=30))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
             .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                            critical=False))
        if ca:
            b = b.add_extension(x509.KeyUsage(**{**flags, "key_cert_sign": True,
                                                 "crl_sign": True}), critical=True)
        else:
            b = (b.add_extension(x509.KeyUsage(**{**flags, "digital_signature": True}),
                                 critical=True)
                 .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                                critical=False)
                 .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                     signer.public_key()), critical=False))
        return b.sign(signer, None)

    ca_key = ed25519.Ed25519PrivateKey.generate()
    ca_name = name("bench CA")
    ca = cert("bench CA", ca_name, ca_key, ca_key, True)
    key = ed25519.Ed25519PrivateKey.generate()
    ee = cert("bench signer", ca_name, key, ca_key, False)
    pem = serialization.Encoding.PEM
    (keydir / "chain.pem").write_bytes(ee.public_bytes(pem) + ca.public_bytes(pem))
    (keydir / "key.pem").write_bytes(key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


# -- hashing ---------------------------------------------------------------------------------


def hashing_rates(path: Path, reps: int) -> dict[str, float]:
    """GB/s (median of ``reps``) of a raw hashlib loop and Sceau's hashing, page cache warm."""
    from sceau.hashing import hash_file, hash_file_chunked

    def raw() -> None:
        h = hashlib.sha256()
        buf = memoryview(bytearray(1 << 20))
        with open(path, "rb", buffering=0) as f:
            while n := f.readinto(buf):
                h.update(buf[:n])

    methods = {
        "hashlib readinto 1 MiB (1 core)": raw,
        "sceau.hash_file (1 core)": lambda: hash_file(path),
        "sceau chunked, 1 thread": lambda: hash_file_chunked(path, workers=1),
        "sceau chunked, 2 threads": lambda: hash_file_chunked(path, workers=2),
    }
    size = path.stat().st_size
    warm(path)
    times: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(reps):
        for name, fn in methods.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: size / median(ts) / 1e9 for name, ts in times.items()}


def hashing_only(reps: int, where: str | None) -> dict[str, Any]:
    """``--hashing-only``: the hashing table alone (a quick rerun on a quiet machine)."""
    with tempfile.TemporaryDirectory(prefix="sceau-bench-hash-", dir=where) as tmp:
        path = Path(tmp) / "random.bin"
        with open(path, "wb") as f:
            for _ in range(1000):
                f.write(os.urandom(MB))
        rates = hashing_rates(path, reps)
    raw = rates["hashlib readinto 1 MiB (1 core)"]
    print_table(f"Hashing a 1 GB file (GB/s, page cache warm, median of {reps})",
                ["method", "GB/s", "vs hashlib"], [[k, v, v / raw] for k, v in rates.items()])
    return {"hashing_gb_per_s": rates}


# -- main ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; print tables; write the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="no 1 GB file, 3 repetitions")
    parser.add_argument("--reps", type=int, default=None, help="runs per measurement (5)")
    parser.add_argument("--dir", default=None, help="where to write the files (temp dir)")
    parser.add_argument("--hashing-only", action="store_true",
                        help="only the hashing rates, on a 1 GB file of random bytes")
    args = parser.parse_args(argv)
    if args.hashing_only:
        return hashing_only(args.reps or 5, args.dir)
    reps = args.reps or (3 if args.quick else 5)
    cases = [c for c in CASES if not (args.quick and c[0] == "mp4-1GB")]

    workdir = Path(tempfile.mkdtemp(prefix="sceau-bench-media-", dir=args.dir))
    rows: list[dict[str, Any]] = []
    hashing: dict[str, float] = {}
    try:
        make_c2pa_keys(workdir)
        for name, mime, target, maker in cases:
            suffix = {"image/jpeg": ".jpg", "image/png": ".png"}.get(mime, ".mp4")
            original = workdir / f"{name}{suffix}"
            print(f"making {name} ...", flush=True)
            maker(original, target)
            size = original.stat().st_size
            n = max(2, reps - 2) if size > 500 * MB else reps
            seal_ops = ("sceau-seal", "sceau-seal-nofsync", "c2pa-seal")
            runs: dict[str, list[dict[str, Any]]] = {op: [] for op in seal_ops}
            # Interleaved (run i of every tool, then run i + 1), so that noise from other
            # work on the machine falls on all of them alike.
            for i in range(n):
                for op in seal_ops:
                    work = fresh_copy(original, workdir / f"run-{i}{original.suffix}")
                    runs[op].append(run_child(op, work, mime, workdir))
                    if op == "sceau-seal" and i == 0:
                        sealed = fresh_copy(work, workdir / f"sealed{original.suffix}")
                    if op == "c2pa-seal" and i == 0:
                        c2pa_out = Path(str(work) + ".c2pa")
                        signed = fresh_copy(c2pa_out, workdir / f"c2pa{original.suffix}")
                    work.unlink()
                    Path(str(work) + ".c2pa").unlink(missing_ok=True)
            runs["sceau-verify"], runs["c2pa-verify"] = [], []
            for _ in range(n):
                for op, path in (("sceau-verify", sealed), ("c2pa-verify", signed)):
                    warm(path)
                    runs[op].append(run_child(op, path, mime, workdir))
            assert all(r["ok"] for r in runs["sceau-verify"]), "sceau did not verify"
            c2pa_ok = all(r["ok"] for r in runs["c2pa-verify"])
            row = {"case": name, "size_bytes": size, "runs": n,
                   "sceau_chunked": runs["sceau-verify"][0]["chunked"],
                   "c2pa_verify_valid": c2pa_ok}
            for op, results in runs.items():
                row[f"{op}_s"] = median([r["seconds"] for r in results])
                row[f"{op}_rss_mb"] = median([r["peak_rss_mb"] for r in results])
                row[f"{op}_all_s"] = [r["seconds"] for r in results]
            row["seal_speedup"] = row["c2pa-seal_s"] / row["sceau-seal_s"]
            row["seal_speedup_nofsync"] = row["c2pa-seal_s"] / row["sceau-seal-nofsync_s"]
            row["verify_speedup"] = row["c2pa-verify_s"] / row["sceau-verify_s"]
            rows.append(row)
            print(f"  {name}: sceau {row['sceau-seal_s'] * 1000:.1f} ms, c2pa "
                  f"{row['c2pa-seal_s'] * 1000:.1f} ms", flush=True)
            for p in (sealed, signed):
                p.unlink()
            if name == cases[-1][0]:
                print(f"hashing rates on {name} ...", flush=True)
                hashing = hashing_rates(original, reps)
            original.unlink()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    table = [[r["case"], r["size_bytes"] / MB, r["sceau-seal_s"] * 1000,
              r["sceau-seal-nofsync_s"] * 1000, r["c2pa-seal_s"] * 1000,
              r["seal_speedup"], r["sceau-seal_rss_mb"], r["c2pa-seal_rss_mb"]] for r in rows]
    print_table("Seal + embed (median of the runs; ms; peak RSS in MiB)",
                ["file", "MB", "sceau", "sceau no fsync", "c2pa-python", "speed-up",
                 "sceau RSS", "c2pa RSS"], table)
    table = [[r["case"], r["sceau-verify_s"] * 1000, r["c2pa-verify_s"] * 1000,
              r["verify_speedup"], r["sceau-verify_rss_mb"], r["c2pa-verify_rss_mb"]]
             for r in rows]
    print_table("Verify (ms; peak RSS in MiB)",
                ["file", "sceau", "c2pa-python", "speed-up", "sceau RSS", "c2pa RSS"], table)
    targets: dict[str, bool] = {}
    for r in rows:
        if r["case"] in TARGET_SPEEDUP:
            goal = TARGET_SPEEDUP[r["case"]]
            targets[f"{r['case']} seal >= {goal:g}x"] = r["seal_speedup"] >= goal
            print(f"  {r['case']}: {r['seal_speedup']:.1f}x faster (target >= {goal:g}x: "
                  f"{verdict(r['seal_speedup'] >= goal)})")
        if r["case"] == "mp4-1GB":
            ok = r["sceau-seal_rss_mb"] < TARGET_RSS_1GB_MB
            targets["1 GB peak RSS < 64 MB"] = ok
            print(f"  mp4-1GB: sceau peak RSS {r['sceau-seal_rss_mb']:.1f} MiB (target < "
                  f"{TARGET_RSS_1GB_MB:.0f}: {verdict(ok)})")
    if hashing:
        raw = hashing["hashlib readinto 1 MiB (1 core)"]
        one = hashing["sceau.hash_file (1 core)"]
        two = hashing["sceau chunked, 2 threads"]
        single = hashing["sceau chunked, 1 thread"]
        print_table(f"Hashing the {rows[-1]['case']} file (GB/s, page cache warm)",
                    ["method", "GB/s", "vs hashlib"],
                    [[k, v, v / raw] for k, v in hashing.items()])
        targets["hash_file >= 95% of hashlib"] = one / raw >= TARGET_ONE_CORE
        targets["chunked 2 threads >= 1.7x one core"] = two / raw >= TARGET_TWO_CORES
        print(f"  one core: {one / raw:.1%} of hashlib (target >= 95%: "
              f"{verdict(one / raw >= TARGET_ONE_CORE)}); two threads: {two / raw:.2f}x "
              f"hashlib, {two / single:.2f}x the chunked hash on one thread (target >= "
              f"1.7x: {verdict(two / raw >= TARGET_TWO_CORES)})")
    data = {"reps": reps, "cases": rows, "hashing_gb_per_s": hashing, "targets_met": targets}
    write_result(NAME, data)
    return data


if __name__ == "__main__":
    main()
