"""Canonical claim bytes for many claims that differ only in a few values.

A signing service seals thousands of claims that share everything but the content's hash,
size, media type and title, the time and the instance id.  Building each claim as a dict,
validating it with :func:`~sceau.claim.read_claim` and canonicalising it costs ~35 µs; a
:class:`ClaimTemplate` renders the same bytes in a few µs.

The template is made *by* :func:`~sceau.claim.build_claim` and
:func:`~sceau.canonical.canonicalize`: they build one claim whose variable values are
sentinels, and the canonical bytes are cut at the sentinels.  No claim structure is
written twice, so the two paths cannot drift; a property test checks that
``render(...) == canonicalize(build_claim(...))`` for any inputs.  The variable values are
validated by the same rules :func:`~sceau.claim.read_claim` applies to them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sceau.canonical import canonicalize, encode_string
from sceau.claim import (
    ClaimError,
    build_claim,
    check_instance_id,
    check_media_type,
    check_size,
    check_title,
    new_instance_id,
)
from sceau.timefmt import format_time

__all__ = ["ClaimTemplate"]

# Sentinels: values build_claim accepts and that no fixed part of a claim can contain (the
# fixed parts are checked to hold each sentinel exactly as often as the claim uses it).
_HASH = bytes.fromhex("c3" * 32)
_SIZE = 4_503_599_627_370_481
_MEDIA = "x-sceau-sentinel/media-type"
_TITLE = "\x01sceau-sentinel-title\x01"
_INSTANCE = "xmp:iid:d4d4d4d4-d4d4-4d4d-9d4d-d4d4d4d4d4d4"
_CREATED = datetime.fromisoformat("1903-02-03T04:05:06+00:00")

_TOKENS: dict[bytes, str] = {
    _HASH.hex().encode(): "hash",
    str(_SIZE).encode(): "size",
    encode_string(_MEDIA): "media_type",
    encode_string(_TITLE): "title",
    encode_string(_INSTANCE): "instance_id",
    encode_string(format_time(_CREATED)): "created",
}
_SPLIT = re.compile(b"|".join(re.escape(t) for t in _TOKENS))
#: How often each value appears in a claim (``created`` twice: the claim and the first
#: action's ``when``).
_EXPECTED = {"hash": 1, "size": 1, "media_type": 1, "title": 1, "instance_id": 1,
             "created": 2}


class ClaimTemplate:
    """The canonical bytes of :func:`~sceau.claim.build_claim` claims with fixed options.

    ``options`` are build_claim's keyword arguments other than the variable ones
    (``sha256``, ``size``, ``media_type``, ``title``, ``created``, ``instance_id``);
    ``with_title`` says whether rendered claims have a title.  Raises
    :class:`ValueError` when the options cannot be templated (a fixed value that happens
    to contain a sentinel); callers then use build_claim.
    """

    __slots__ = ("_parts",)

    def __init__(self, *, with_title: bool, **options: Any) -> None:
        claim = build_claim(sha256=_HASH, size=_SIZE, media_type=_MEDIA, created=_CREATED,
                            title=_TITLE if with_title else None, instance_id=_INSTANCE,
                            **options)
        data = canonicalize(claim)
        parts: list[bytes | str] = []
        at = 0
        for match in _SPLIT.finditer(data):
            parts.append(data[at:match.start()])
            parts.append(_TOKENS[match.group()])
            at = match.end()
        parts.append(data[at:])
        counts = {name: parts.count(name) for name in _EXPECTED}
        expected = dict(_EXPECTED, title=1 if with_title else 0)
        if counts != expected:
            raise ValueError("these claim options cannot be templated")
        self._parts = tuple(parts)

    def render(self, *, sha256: bytes, size: int, media_type: str, created: datetime,
               title: str | None = None, instance_id: str | None = None) -> bytes:
        """The canonical bytes of the claim with these values (validated as
        :func:`~sceau.claim.read_claim` would)."""
        if len(sha256) != 32:
            raise ClaimError("assertion.dataHash.malformed", "sha256 must be 32 bytes")
        check_size(size)
        check_media_type(media_type)
        if instance_id is not None:
            check_instance_id(instance_id)
        values: Mapping[str, bytes] = {
            "hash": sha256.hex().encode(),
            "size": str(size).encode(),
            "media_type": encode_string(media_type),
            "created": encode_string(format_time(created)),
            "instance_id": encode_string(instance_id or new_instance_id()),
        }
        if title is not None:
            check_title(title)
            values = {**values, "title": encode_string(title)}
        if ("title" in values) != ("title" in self._parts):
            raise ValueError("this template was made for claims "
                             + ("with" if "title" in self._parts else "without") + " a title")
        return b"".join(p if isinstance(p, bytes) else values[p] for p in self._parts)
