"""Sidecar seals: ``<file>.sceau.json`` next to the media file (SPEC.md §8.1)."""

from __future__ import annotations

import os
from pathlib import Path

from sceau.atomic import atomic_write
from sceau.envelope import MAX_ENVELOPE_BYTES
from sceau.errors import NoSealFoundError, PayloadTooLargeError

__all__ = ["SIDECAR_SUFFIX", "read_sidecar", "sidecar_path", "write_sidecar"]

SIDECAR_SUFFIX = ".sceau.json"


def sidecar_path(media: str | os.PathLike[str]) -> Path:
    """Where the sidecar of ``media`` lives."""
    p = Path(media)
    return p.with_name(p.name + SIDECAR_SUFFIX)


def write_sidecar(media: str | os.PathLike[str], envelope_bytes: bytes, *,
                  overwrite: bool = False) -> Path:
    """Write the sidecar atomically (temp file, fsync, rename) and return its path.

    An existing sidecar is replaced only with ``overwrite=True``; otherwise
    :class:`FileExistsError` is raised, race-free (a file is never sealed twice silently).
    """
    path = sidecar_path(media)
    atomic_write(path, envelope_bytes, overwrite=overwrite)
    return path


def read_sidecar(media: str | os.PathLike[str]) -> bytes:
    """The sidecar's bytes; :class:`NoSealFoundError` when there is none."""
    path = sidecar_path(media)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_ENVELOPE_BYTES + 1)
    except FileNotFoundError:
        raise NoSealFoundError(f"no seal found for {Path(media).name}") from None
    if len(data) > MAX_ENVELOPE_BYTES:
        raise PayloadTooLargeError(f"{path.name} exceeds {MAX_ENVELOPE_BYTES} bytes")
    return data
