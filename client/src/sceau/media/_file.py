"""A media file on disk: find its container and our region, hash its content, rewrite it.

Writes never leave a half-written file: a rewrite goes to a temporary file in the same
directory (flushed and fsync'ed) that atomically replaces the original; the one in-place
path, appending a box to an ISO BMFF file, truncates the file back to what it was if
anything fails.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from sceau.chunking import CHUNKED_THRESHOLD
from sceau.errors import MalformedMediaError, UnsupportedMediaError
from sceau.hashing import Progress, hash_file, hash_file_chunked
from sceau.media import bmff, jpeg, png, webp
from sceau.media._base import DamagedRecordError, Layout, Region, Source, parse_record
from sceau.mediatype import HEAD_SIZE, sniff
from sceau.verify import ContentDigest

__all__ = [
    "CONTAINERS",
    "EmbeddedSeal",
    "MediaFile",
    "probe",
]

#: Media types whose files carry embedded seals, and the module that handles each.
CONTAINERS: dict[str, ModuleType] = {
    "image/jpeg": jpeg,
    "image/png": png,
    "image/webp": webp,
    "video/mp4": bmff,
    "video/quicktime": bmff,
    "video/3gpp": bmff,
    "video/3gpp2": bmff,
    "audio/mp4": bmff,
    "image/avif": bmff,
    "image/heic": bmff,
    "image/heif": bmff,
}
_COPY_BLOCK = 8 << 20


@dataclass(frozen=True, slots=True)
class EmbeddedSeal:
    """A seal found inside a file: the envelope bytes (empty when the record is damaged,
    which verification reports as a malformed envelope) and where it was."""

    envelope: bytes
    container: str
    region: Region
    damage: str | None = None
    notes: tuple[str, ...] = ()

    def location(self) -> dict[str, object]:
        """JSON description of where the seal was found."""
        doc: dict[str, object] = {"attachment": "embedded", "container": self.container,
                                  "offset": self.region.start, "length": self.region.length}
        if self.damage is not None:
            doc["damage"] = self.damage
        if self.notes:
            doc["notes"] = list(self.notes)
        return doc


@dataclass(frozen=True)
class MediaFile:
    """A file of a supported container type, parsed (structure only)."""

    path: Path
    media_type: str
    layout: Layout
    identity: tuple[int, int, int, int] = field(repr=False)

    @property
    def container(self) -> str:
        """``jpeg``, ``png``, ``webp`` or ``bmff``."""
        return self.layout.container

    @property
    def handler(self) -> ModuleType:
        """The container module."""
        return CONTAINERS[self.media_type]

    def embedded_seal(self) -> EmbeddedSeal | None:
        """Our seal in this file, if it has one."""
        layout = self.layout
        if layout.region is None or layout.record is None:
            return None
        try:
            envelope = parse_record(layout.record)
            damage = None
        except DamagedRecordError as exc:
            envelope, damage = b"", str(exc)
        return EmbeddedSeal(envelope, layout.container, layout.region, damage, layout.notes)

    def content_digest(self, *, chunked: bool | None = None, chunk_size: int | None = None,
                       workers: int | None = None,
                       progress: Progress | None = None) -> ContentDigest:
        """The digest of this file's content: the file without our region (SPEC.md §6.3).

        ``chunked`` None chooses the chunked binding for content of at least
        :data:`~sceau.chunking.CHUNKED_THRESHOLD` bytes.
        """
        return digest_file(self.path, exclusions=self.layout.exclusions,
                           patches=self.layout.content_patches, chunked=chunked,
                           chunk_size=chunk_size, workers=workers, progress=progress)

    def check_unchanged(self) -> None:
        """Raise if the file changed on disk since it was parsed."""
        if _identity(os.stat(self.path)) != self.identity:
            raise UnsupportedMediaError(f"{self.path.name} changed while it was being "
                                        "sealed; nothing was written")

    # -- writing ---------------------------------------------------------------------

    def write_region(self, region: bytes, *, fsync: bool = True) -> Region:
        """Replace our region (if any) by ``region`` at the layout's insertion point.

        Returns where the new region is.  The file's content (what the seal hashes) is
        unchanged.
        """
        layout = self.layout
        if layout.unembeddable is not None:
            raise UnsupportedMediaError(f"{self.path.name}: cannot embed a seal: "
                                        f"{layout.unembeddable}")
        self.check_unchanged()
        patches = self._output_patches(len(region))
        at = layout.insert_at
        if (not patches and at == layout.content_size
                and (layout.region is None or layout.region.end == layout.file_size)):
            _append_in_place(self.path, layout, region, fsync=fsync)
        else:
            self._rewrite(insert=(at, region), patches=patches, fsync=fsync)
        return Region(at, len(region))

    def strip(self, *, fsync: bool = True) -> bool:
        """Remove our region and restore the file's bytes as they were before sealing.

        Returns False (and writes nothing) when the file has no region.
        """
        layout = self.layout
        if layout.region is None:
            return False
        self.check_unchanged()
        if layout.region.end == layout.file_size and not layout.content_patches:
            with open(self.path, "r+b") as f:
                f.truncate(layout.region.start)
                if fsync:
                    os.fsync(f.fileno())
            return True
        self._rewrite(insert=None, patches=self._output_patches(0), fsync=fsync)
        return True

    def _output_patches(self, region_length: int) -> tuple[tuple[int, bytes], ...]:
        if self.layout.content_riff_size is None:
            return ()
        return (webp.riff_patch(self.layout.content_riff_size + region_length),)

    def _rewrite(self, *, insert: tuple[int, bytes] | None,
                 patches: Sequence[tuple[int, bytes]], fsync: bool) -> None:
        """Write the content (with ``insert`` spliced in) to a temporary file, then
        rename it over the original."""
        layout = self.layout
        target = Path(os.path.realpath(self.path))  # through a symlink, not over it
        mode = stat.S_IMODE(os.stat(target).st_mode)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                   suffix=".sceau-tmp")
        try:
            with open(target, "rb", buffering=0) as src, os.fdopen(fd, "wb", buffering=0) as out:
                out_pos = 0
                content_pos = 0
                for piece_start, piece_length in _content_pieces(layout):
                    offset, length = piece_start, piece_length
                    if insert is not None and content_pos <= insert[0] < content_pos + length:
                        head = insert[0] - content_pos
                        _copy(src.fileno(), out.fileno(), offset, head, out_pos)
                        out_pos += head
                        out_pos += _write_all(out.fileno(), insert[1], out_pos)
                        insert = None
                        offset, length = offset + head, length - head
                        content_pos += head
                    _copy(src.fileno(), out.fileno(), offset, length, out_pos)
                    out_pos += length
                    content_pos += length
                if insert is not None:  # at the very end of the content
                    out_pos += _write_all(out.fileno(), insert[1], out_pos)
                for offset, data in patches:
                    _write_all(out.fileno(), data, offset)
                if fsync:
                    os.fsync(out.fileno())
            os.chmod(tmp, mode)
            self.check_unchanged()
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        if fsync:
            _fsync_dir(target.parent)


def probe(path: str | os.PathLike[str]) -> MediaFile | None:
    """Parse ``path`` if its bytes (never its name) say it is a container Sceau embeds
    seals in; ``None`` for any other type.  Raises
    :class:`~sceau.errors.MalformedMediaError` for a broken file of a supported type."""
    p = Path(path)
    with open(p, "rb", buffering=0) as f:
        fd = f.fileno()
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsupportedMediaError(f"{p.name} is not a regular file")
        media_type = sniff(os.pread(fd, HEAD_SIZE, 0))
        handler = CONTAINERS.get(media_type)
        if handler is None:
            return None
        layout: Layout = handler.parse(Source(fd, st.st_size))
    return MediaFile(p, media_type, layout, _identity(st))


def find_embedded(path: str | os.PathLike[str]) -> tuple[
        MediaFile | None, EmbeddedSeal | None, MalformedMediaError | None]:
    """Look for a seal embedded in ``path``: the parsed file (None for a type Sceau does not
    embed in, or a broken container), its embedded seal (or None), and the error that made
    a file of a supported type unreadable (or None), for callers that look elsewhere next
    (a sidecar, a store) and report it only if they find nothing."""
    try:
        media = probe(path)
    except MalformedMediaError as exc:
        return None, None, exc
    return media, (media.embedded_seal() if media is not None else None), None


def binding_digest(path: str | os.PathLike[str], chunk_size: int | None,
                   media: MediaFile | None, embedded: EmbeddedSeal | None) -> ContentDigest:
    """What a seal's hard binding covers in ``path``, computed the way the binding says
    (chunked when it has a ``chunk_size``): the file minus the region where the seal was
    found, never the claim's own exclusions (SPEC.md §6.3)."""
    exclusions: tuple[tuple[int, int], ...] = ()
    patches: tuple[tuple[int, bytes], ...] = ()
    if embedded is not None and media is not None:
        exclusions = ((embedded.region.start, embedded.region.length),)
        patches = media.layout.content_patches
    return digest_file(path, exclusions=exclusions, patches=patches,
                       chunked=chunk_size is not None, chunk_size=chunk_size)


def digest_file(path: str | os.PathLike[str], *, exclusions: Sequence[tuple[int, int]] = (),
                patches: Sequence[tuple[int, bytes]] = (), chunked: bool | None = None,
                chunk_size: int | None = None, workers: int | None = None,
                progress: Progress | None = None) -> ContentDigest:
    """Hash a file minus ``exclusions`` with the plain or the chunked binding."""
    if chunked is None:
        size = os.stat(path).st_size - sum(n for _, n in exclusions)
        chunked = chunk_size is not None or size >= CHUNKED_THRESHOLD
    if chunked:
        return hash_file_chunked(path, chunk_size=chunk_size, exclusions=exclusions,
                                 patches=patches, workers=workers, progress=progress)
    return hash_file(path, exclusions=exclusions, patches=patches, progress=progress)


# -- helpers -------------------------------------------------------------------------------


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _content_pieces(layout: Layout) -> Iterator[tuple[int, int]]:
    """File ``(offset, length)`` runs of the content, in order."""
    region = layout.region
    if region is None:
        yield 0, layout.file_size
        return
    if region.start:
        yield 0, region.start
    if region.end < layout.file_size:
        yield region.end, layout.file_size - region.end


def _copy(src: int, dst: int, offset: int, length: int, out_offset: int) -> None:
    """Copy ``length`` bytes from ``src`` at ``offset`` to ``dst`` at ``out_offset``,
    in the kernel when it can (copy_file_range), else through one small buffer."""
    done = 0
    if hasattr(os, "copy_file_range"):
        try:
            while done < length:
                n = os.copy_file_range(src, dst, min(length - done, 1 << 30),
                                       offset + done, out_offset + done)
                if n <= 0:
                    break
                done += n
        except OSError:
            pass  # e.g. EXDEV or a filesystem without support: fall back below
    buf = memoryview(bytearray(min(_COPY_BLOCK, max(length - done, 1))))
    while done < length:
        want = min(len(buf), length - done)
        n = os.preadv(src, [buf[:want]], offset + done)
        if n <= 0:
            raise MalformedMediaError("the file ended while it was being copied "
                                      "(it changed?)")
        _write_all(dst, buf[:n], out_offset + done)
        done += n


def _write_all(fd: int, data: bytes | memoryview, offset: int) -> int:
    view = memoryview(data)
    done = 0
    while done < len(view):
        done += os.pwrite(fd, view[done:], offset + done)
    return len(view)


def _append_in_place(path: Path, layout: Layout, region: bytes, *, fsync: bool) -> None:
    """ISO BMFF: put the region at the end of the file; on any failure, put the file back
    as it was (old region included) before re-raising."""
    old = layout.region
    keep = layout.file_size if old is None else old.start
    with open(path, "r+b", buffering=0) as f:
        fd = f.fileno()
        previous = b"" if old is None else os.pread(fd, old.length, old.start)
        try:
            if old is not None:
                os.ftruncate(fd, keep)
            _write_all(fd, region, keep)
            if fsync:
                os.fsync(fd)
        except BaseException:
            os.ftruncate(fd, keep)
            if previous:
                _write_all(fd, previous, keep)
            os.fsync(fd)
            raise


def _fsync_dir(directory: Path) -> None:
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
