"""Seals embedded in media files (SPEC.md §6.3): JPEG, PNG, WebP and ISO BMFF (MP4, MOV).

Pure-Python container parsers over bounded reads (no image library): the media type
comes from the file's first bytes, never its name; only container structure is read
(segment, chunk and box headers, and our own region), never image or video data.

* :func:`probe` parses a file and tells where its seal is or would go;
* :meth:`MediaFile.embedded_seal` reads the seal, :meth:`MediaFile.content_digest` hashes
  what the seal covers (the file without the seal's region);
* :func:`prepare` / :func:`attach` seal a file in two steps around the signing call,
  :func:`seal_file` does both with a :class:`~sceau.Client`, :func:`seal_file_locally`
  with a local signer;
* :meth:`MediaFile.strip` removes the seal and restores the original bytes.
"""

from sceau.media._base import Layout, Region
from sceau.media._file import (
    CONTAINERS,
    EmbeddedSeal,
    MediaFile,
    binding_digest,
    digest_file,
    find_embedded,
    probe,
)
from sceau.media._seal import (
    PreparedSeal,
    RegionTooSmallError,
    attach,
    estimate_envelope_size,
    prepare,
    seal_file,
    seal_file_locally,
)

__all__ = [
    "CONTAINERS",
    "EmbeddedSeal",
    "Layout",
    "MediaFile",
    "PreparedSeal",
    "Region",
    "RegionTooSmallError",
    "attach",
    "binding_digest",
    "digest_file",
    "estimate_envelope_size",
    "find_embedded",
    "prepare",
    "probe",
    "seal_file",
    "seal_file_locally",
]
