"""Strict JSON for the Sceau profile (SPEC.md §2).

The profile is I-JSON (RFC 7493) narrowed further: UTF-8 only, no duplicate member names,
no floats (no fraction or exponent, no NaN/Infinity), integers within ±(2^53 - 1), and a
bounded nesting depth and size.  Everything here is pure: bytes in, Python values out.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sceau.errors import (
    DuplicateKeyError,
    FloatNotAllowedError,
    IntegerOutOfRangeError,
    MalformedJSONError,
    NestingTooDeepError,
    PayloadTooLargeError,
)

__all__ = ["MAX_DEPTH", "MAX_SAFE_INTEGER", "JSONValue", "check_str", "loads"]

#: Largest integer magnitude allowed (RFC 7493 §2.2; the IEEE 754 double exact range).
MAX_SAFE_INTEGER = 2**53 - 1
#: Deepest nesting of arrays/objects allowed by default.
MAX_DEPTH = 32
#: Longest digit string parsed as an integer; longer cannot be in range anyway.
_MAX_INT_DIGITS = 17
#: An escape that decodes to a UTF-16 surrogate code unit (paired or not).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")

JSONValue = Any  # dict[str, JSONValue] | list[JSONValue] | str | int | bool | None


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKeyError(f"duplicate member name {key[:64]!r}")
            seen.add(key)
    return obj


def _float(text: str) -> Any:
    raise FloatNotAllowedError(f"number {text[:32]!r} has a fraction or exponent")


def _constant(text: str) -> Any:
    raise FloatNotAllowedError(f"{text} is not JSON")


def _int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise IntegerOutOfRangeError(f"integer {text[:32]}... is out of range")
    value = int(text)
    if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        raise IntegerOutOfRangeError(f"integer {text} is out of range ±(2^53-1)")
    return value


_DECODER = json.JSONDecoder(
    object_pairs_hook=_pairs, parse_float=_float, parse_int=_int, parse_constant=_constant
)


def _depth_ok(data: bytes | str, max_depth: int) -> bool:
    """Cheap upper bound: the count of opening brackets bounds the depth."""
    if isinstance(data, bytes):
        opens = data.count(b"[") + data.count(b"{")
    else:
        opens = data.count("[") + data.count("{")
    return opens <= max_depth


def _check_tree(value: Any, max_depth: int, *, strings: bool) -> None:
    """Enforce the depth limit and, when ``strings``, reject lone surrogates anywhere."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
            if strings:
                for key in node:
                    check_str(key)
        elif isinstance(node, list):
            children = node
        else:
            if strings and isinstance(node, str):
                check_str(node)
            continue
        if depth > max_depth:
            raise NestingTooDeepError(f"nesting deeper than {max_depth}")
        stack.extend((child, depth + 1) for child in children)


def loads(data: bytes | bytearray | memoryview | str, *, max_bytes: int = 1 << 20,
          max_depth: int = MAX_DEPTH) -> JSONValue:
    """Parse one JSON text under the Sceau profile.

    Raises a :class:`~sceau.errors.MalformedJSONError` subclass naming the violation
    (including a string or member name holding a lone surrogate escape), or
    :class:`~sceau.errors.PayloadTooLargeError` when the input exceeds ``max_bytes``.
    """
    if len(data) > max_bytes:
        raise PayloadTooLargeError(f"JSON text of {len(data)} bytes exceeds {max_bytes}")
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedJSONError(f"not UTF-8: {exc.reason} at byte {exc.start}") from None
    else:
        text = data
        check_str(text)  # a str may hold a raw lone surrogate, which is not UTF-8
    if text.startswith("\ufeff"):
        raise MalformedJSONError("byte order mark is not allowed")
    try:
        value = _DECODER.decode(text)
    except MalformedJSONError:
        raise
    except RecursionError:
        raise NestingTooDeepError(f"nesting deeper than {max_depth}") from None
    except json.JSONDecodeError as exc:
        raise MalformedJSONError(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except ValueError as exc:  # e.g. int conversion limits
        raise MalformedJSONError(str(exc)) from None
    # A \uD800-\uDFFF escape may leave a lone surrogate (RFC 7493 §2.1 forbids them);
    # raw UTF-8 cannot hold one (checked above), so only texts with such an escape
    # need the string walk.
    strings = _SURROGATE_ESCAPE.search(text) is not None
    if strings or not _depth_ok(text, max_depth):
        _check_tree(value, max_depth, strings=strings)
    return value


def check_str(text: str) -> None:
    """Reject strings that cannot be encoded as UTF-8 (lone surrogates)."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise MalformedJSONError("string holds a lone surrogate") from None
