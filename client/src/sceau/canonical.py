"""Canonical JSON bytes: RFC 8785 (JCS) for the Sceau profile (SPEC.md §2.2).

Within the profile (no floats, integers within ±(2^53 - 1), strings without lone
surrogates) JCS output equals Python's ``json.dumps`` with ``ensure_ascii=False``, compact
separators and keys sorted, except that JCS sorts keys by UTF-16 code units and Python by
code points.  The two orders differ only when a key holds a character above U+FFFF; such
values are re-ordered here first.  ``tests/client/test_canonical.py`` proves byte identity
with the reference ``rfc8785`` package by property testing; ``bench/bench_canonical.py``
shows why this path exists (the C encoder is many times faster than pure-Python JCS).
"""

from __future__ import annotations

import json
from typing import Any

from sceau.errors import (
    FloatNotAllowedError,
    IntegerOutOfRangeError,
    MalformedJSONError,
    NestingTooDeepError,
)
from sceau.strictjson import MAX_DEPTH, MAX_SAFE_INTEGER, check_str

__all__ = ["canonicalize", "check_profile"]

_SORTED = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True,
                           allow_nan=False)
_AS_GIVEN = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def check_profile(value: Any, *, max_depth: int = MAX_DEPTH) -> bool:
    """Check that an in-memory value fits the Sceau JSON profile.

    Raises the errors :func:`sceau.strictjson.loads` raises (floats, out-of-range
    integers, nesting, lone surrogates, non-string keys, non-JSON types).  Returns True
    when some object key holds a character above U+FFFF (JCS then needs UTF-16 ordering).
    """
    astral = False
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if node is None or isinstance(node, bool):
            continue
        if isinstance(node, int):
            if not -MAX_SAFE_INTEGER <= node <= MAX_SAFE_INTEGER:
                raise IntegerOutOfRangeError(f"integer {node} is out of range ±(2^53-1)")
        elif isinstance(node, str):
            check_str(node)
        elif isinstance(node, float):
            raise FloatNotAllowedError(f"float {node!r} is not allowed")
        elif depth >= max_depth:
            raise NestingTooDeepError(f"nesting deeper than {max_depth}")
        elif isinstance(node, dict):
            for key, child in node.items():
                if not isinstance(key, str):
                    raise MalformedJSONError(f"object key {key!r} is not a string")
                if not key.isascii():
                    check_str(key)
                    astral = astral or any(ord(c) > 0xFFFF for c in key)
                stack.append((child, depth + 1))
        elif isinstance(node, (list, tuple)):
            stack.extend((child, depth + 1) for child in node)
        else:
            raise MalformedJSONError(f"{type(node).__name__} is not a JSON type")
    return astral


def _utf16_sorted(value: Any) -> Any:
    if isinstance(value, dict):
        order = sorted(value, key=lambda k: k.encode("utf-16-be"))
        return {k: _utf16_sorted(value[k]) for k in order}
    if isinstance(value, (list, tuple)):
        return [_utf16_sorted(v) for v in value]
    return value


def canonicalize(value: Any, *, max_depth: int = MAX_DEPTH) -> bytes:
    """Return the JCS (RFC 8785) bytes of ``value``, which must fit the Sceau profile."""
    if check_profile(value, max_depth=max_depth):
        return _AS_GIVEN.encode(_utf16_sorted(value)).encode("utf-8")
    return _SORTED.encode(value).encode("utf-8")
