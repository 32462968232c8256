#!/usr/bin/env python3
"""Coverage-guided fuzzing of Sceau's media container parsers with atheris.

    make fuzz                                   # 60 s, corpus in fuzz/corpus/
    .venv/bin/python fuzz/fuzz_media.py fuzz/corpus -max_total_time=600

Every input is written to a temporary file and parsed as JPEG, PNG, WebP and ISO BMFF
(the first bytes are replaced by each format's magic in turn, so that every parser sees
every input), then the seal is read and the content hashed.  Anything other than a clean
parse or :class:`sceau.errors.MalformedMediaError` is a bug: atheris reports it with the
input that caused it.  The seed corpus (sealed files made with Pillow) is written on the
first run.
"""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import atheris
from PIL import Image

with atheris.instrument_imports():
    from sceau import LocalSigner
    from sceau.errors import MalformedMediaError
    from sceau.media import probe, seal_file_locally

_MAGICS = (b"", b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"RIFF\x00\x00\x00\x00WEBP",
           b"\x00\x00\x00\x10ftypisom")
_FILE = Path(tempfile.mkdtemp(prefix="sceau-fuzz-")) / "input"


def _one(data: bytes) -> None:
    _FILE.write_bytes(data)
    try:
        media = probe(_FILE)
        if media is not None:
            media.embedded_seal()
            media.content_digest(chunked=False)
    except MalformedMediaError:
        pass


def test_one_input(data: bytes) -> None:
    """atheris entry point."""
    fdp = atheris.FuzzedDataProvider(data)
    magic = _MAGICS[fdp.ConsumeIntInRange(0, len(_MAGICS) - 1)]
    body = bytearray(fdp.ConsumeBytes(fdp.remaining_bytes()))
    body.extend(bytes(max(0, len(magic) - len(body))))
    if magic.startswith(b"RIFF"):
        body[0:4], body[8:12] = b"RIFF", b"WEBP"  # keep the fuzzed RIFF size
    else:
        body[:len(magic)] = magic
    _one(bytes(body))


def _seed(corpus: Path) -> None:
    """Sealed sample files as the starting corpus."""
    if corpus.exists() and any(corpus.iterdir()):
        return
    corpus.mkdir(parents=True, exist_ok=True)
    signer = LocalSigner.generate()
    img = Image.new("RGB", (16, 12), (200, 30, 90))
    for index, fmt in enumerate(("JPEG", "PNG", "WEBP")):
        path = corpus / f"seed-{fmt.lower()}"
        img.save(path, fmt)
        seal_file_locally(path, signer, tenant="fuzz", created=datetime.now(UTC))
        # The first byte picks the magic (index + 1 is this format's own).
        path.write_bytes(bytes([index + 1]) + path.read_bytes())


def main() -> None:
    """Seed the corpus directory (first argument, if any) and run atheris."""
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    if args:
        _seed(Path(args[0]))
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
