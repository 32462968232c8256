"""Canonical JSON bytes: RFC 8785 (JCS) for the Sceau profile (SPEC.md §2.2).

Within the profile (no floats, integers within ±(2^53 - 1), strings without lone
surrogates) JCS output equals Python's ``json.dumps`` with ``ensure_ascii=False``, compact
separators and keys sorted, except that JCS sorts keys by UTF-16 code units and Python by
code points.  The two orders differ only when a key holds a character above U+FFFF; such
values are re-ordered here first.  ``tests/client/test_canonical.py`` proves byte identity
with the reference ``rfc8785`` package by property testing; ``bench/bench_core.py``
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

__all__ = ["canonicalize", "check_profile", "encode_string"]

# check_circular is off: check_profile has already bounded the depth, so a cycle never
# reaches the encoder (it fails as too deep first).
_SORTED = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True,
                           allow_nan=False, check_circular=False)
_AS_GIVEN = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False,
                             check_circular=False)


def check_profile(value: Any, *, max_depth: int = MAX_DEPTH) -> bool:
    """Check that an in-memory value fits the Sceau JSON profile.

    Raises the errors :func:`sceau.strictjson.loads` raises (floats, out-of-range
    integers, nesting, lone surrogates, non-string keys, non-JSON types).  Returns True
    when some object key holds a character above U+FFFF (JCS then needs UTF-16 ordering).
    """
    if max_depth > _RECURSIVE_MAX_DEPTH:
        return _check_stack(value, 0, max_depth)
    return _check(value, 0, max_depth)


# The walk is the hot part of canonicalisation (the C encoder does the rest), so plain
# dicts, lists and the common scalars take a fast path: one call per container, scalars
# checked inline.  It visits nodes in exactly the order of the explicit-stack walk below
# (depth first, last child first), so an invalid value raises the same error either way;
# anything else (subclasses, floats, other types) goes through the stack walk itself.
_RECURSIVE_MAX_DEPTH = 200  # deeper limits use the stack walk (no recursion limit)


def _check(node: Any, depth: int, max_depth: int) -> bool:
    kind = type(node)
    if kind is dict:
        if depth >= max_depth:
            raise NestingTooDeepError(f"nesting deeper than {max_depth}")
        astral = False
        for key in node:
            if not isinstance(key, str):
                raise MalformedJSONError(f"object key {key!r} is not a string")
            if not key.isascii():
                check_str(key)
                astral = astral or any(ord(c) > 0xFFFF for c in key)
        children: Any = reversed(node.values())
    elif kind is list or kind is tuple:
        if depth >= max_depth:
            raise NestingTooDeepError(f"nesting deeper than {max_depth}")
        astral = False
        children = reversed(node)
    elif kind is str:
        if not node.isascii():
            check_str(node)
        return False
    else:
        return _check_stack(node, depth, max_depth)
    depth += 1
    for child in children:
        kind = type(child)
        if kind is str:
            if not child.isascii():
                check_str(child)
        elif kind is int:
            if not -MAX_SAFE_INTEGER <= child <= MAX_SAFE_INTEGER:
                raise IntegerOutOfRangeError(f"integer {child} is out of range ±(2^53-1)")
        elif child is None or kind is bool:
            pass
        elif _check(child, depth, max_depth):
            astral = True
    return astral


def _check_stack(value: Any, depth: int, max_depth: int) -> bool:
    """The reference walk: an explicit stack, any depth, any subclass."""
    astral = False
    stack: list[tuple[Any, int]] = [(value, depth)]
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


def encode_string(text: str) -> bytes:
    """The JCS bytes of one string (RFC 8785 §3.2.2.2), which must fit the profile."""
    check_str(text)
    return _AS_GIVEN.encode(text).encode("utf-8")


def canonicalize(value: Any, *, max_depth: int = MAX_DEPTH) -> bytes:
    """Return the JCS (RFC 8785) bytes of ``value``, which must fit the Sceau profile."""
    if check_profile(value, max_depth=max_depth):
        return _AS_GIVEN.encode(_utf16_sorted(value)).encode("utf-8")
    return _SORTED.encode(value).encode("utf-8")
