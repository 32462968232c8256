"""Canonical bytes (docs/SPEC.md §2.2): byte identity with the reference RFC 8785
implementation, and RFC 8785's own examples that fit the integer-only profile."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from sceau.canonical import canonicalize, check_profile
from sceau.errors import (
    FloatNotAllowedError,
    IntegerOutOfRangeError,
    MalformedJSONError,
    NestingTooDeepError,
)
from sceau.strictjson import MAX_DEPTH, MAX_SAFE_INTEGER, loads

#: Characters where encoders tend to differ: controls, quote, backslash, slash, DEL,
#: line/paragraph separators, BOM, the BMP's private-use start and last code point,
#: and characters beyond the BMP (which JCS sorts by their UTF-16 surrogates).
TRICKY = ["\x00", "\x08", "\t", "\n", "\x0c", "\r", "\x1f", '"', "\\", "/", "\x7f",
          "\u0080", "\u00e9", "\u2028", "\u2029", "\u20ac", "\ue000", "\ufb33", "\ufeff",
          "\uffff", "\U00010000", "\U0001f600", "\U0010ffff", "a", "Z", "1"]

chars = st.characters(codec="utf-8")  # every code point but the surrogates
strings = st.text(chars, max_size=12) | st.text(st.sampled_from(TRICKY), max_size=6)
keys = st.text(chars, max_size=4) | st.text(st.sampled_from(TRICKY), max_size=3)
scalars = (st.none() | st.booleans()
           | st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
           | st.sampled_from([0, -1, MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER]) | strings)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(keys, inner, max_size=5), max_leaves=25)


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


@settings(max_examples=400, deadline=None)
@given(values)
def test_identical_to_reference_rfc8785(value: Any) -> None:
    assert canonicalize(value, max_depth=1000) == rfc8785.dumps(value)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(st.sampled_from(TRICKY), min_size=1, max_size=3), scalars,
                       min_size=2, max_size=8))
def test_member_order_is_utf16(value: dict[str, Any]) -> None:
    out = canonicalize(value)
    assert out == rfc8785.dumps(value)
    assert list(loads(out)) == sorted(value, key=lambda k: k.encode("utf-16-be"))


@settings(max_examples=200, deadline=None)
@given(values)
def test_canonical_form_is_a_fixed_point(value: Any) -> None:
    out = canonicalize(value, max_depth=1000)
    if _depth(value) <= MAX_DEPTH:
        assert canonicalize(loads(out)) == out


# RFC 8785 known answers.  Origin: RFC 8785 (June 2020).  Expected bytes are copied from
# the RFC's text, not produced by a library.

def test_rfc8785_section_3_2_3_sorting_example() -> None:
    """RFC 8785 §3.2.3: member names sorted by UTF-16 code units."""
    value = {"\u20ac": "Euro Sign", "\r": "Carriage Return",
             "\ufb33": "Hebrew Letter Dalet With Dagesh", "1": "One",
             "\U0001f600": "Emoji: Grinning Face", "\u0080": "Control",
             "\u00f6": "Latin Small Letter O With Diaeresis"}
    expected = ('{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
                '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
                '"\U0001f600":"Emoji: Grinning Face",'
                '"\ufb33":"Hebrew Letter Dalet With Dagesh"}').encode()
    assert canonicalize(value) == expected
    assert check_profile(value) is True  # the astral name forces UTF-16 ordering


def test_rfc8785_section_3_2_2_example_without_numbers() -> None:
    """RFC 8785 §3.2.2's input, minus its "numbers" member (floats are outside the
    profile): string escaping and literals."""
    text = r'{"string": "\u20ac$\u000F\u000aA' + "'" + r'\u0042\u0022\u005c\\\"\/",' \
           r' "literals": [null, true, false]}'
    expected = ('{"literals":[null,true,false],'
                '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}').encode()
    assert canonicalize(loads(text)) == expected
    assert rfc8785.dumps(loads(text)) == expected


def test_rfc8785_appendix_b_integers() -> None:
    """RFC 8785 Appendix B: the integral IEEE 754 samples within ±(2^53-1) serialise as
    plain integers (0, -0 as 0, 9007199254740991, -9007199254740991)."""
    assert canonicalize([0, -0, 9007199254740991, -9007199254740991]) == (
        b"[0,0,9007199254740991,-9007199254740991]")


def test_no_escape_for_non_ascii_or_del_and_lowercase_hex() -> None:
    assert canonicalize("\x7f\u2028\U0001f600\x1f\x0b") == (
        '"\x7f\u2028\U0001f600\\u001f\\u000b"'.encode())


def test_tuples_are_arrays() -> None:
    assert canonicalize({"a": (1, (2,))}) == b'{"a":[1,[2]]}'


@pytest.mark.parametrize(("value", "error"), [
    (1.0, FloatNotAllowedError),
    ([0.5], FloatNotAllowedError),
    ({"x": float("nan")}, FloatNotAllowedError),
    (2**53, IntegerOutOfRangeError),
    (-(2**53), IntegerOutOfRangeError),
    ("\ud800", MalformedJSONError),
    ({"\udfff": 1}, MalformedJSONError),
    ({1: "x"}, MalformedJSONError),
    ({b"k": "x"}, MalformedJSONError),
    (b"bytes", MalformedJSONError),
    ({1, 2}, MalformedJSONError),
    (object(), MalformedJSONError),
])
def test_out_of_profile_values_are_rejected(value: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        canonicalize(value)


def test_depth_limit_matches_the_parser() -> None:
    deepest = [[]]
    for _ in range(MAX_DEPTH - 2):
        deepest = [deepest]
    assert _depth(deepest) == MAX_DEPTH
    canonicalize(deepest)
    loads(canonicalize(deepest))
    with pytest.raises(NestingTooDeepError):
        canonicalize([deepest])
    with pytest.raises(NestingTooDeepError):
        loads(b"[" + canonicalize(deepest) + b"]")


def test_bool_is_not_an_integer() -> None:
    assert canonicalize([True, False, 1, 0]) == b"[true,false,1,0]"


# The profile check has a recursive fast path and an explicit-stack reference walk
# (sceau.canonical); both must give the same answer, or raise the same error, on any input,
# including values outside the profile.
_hostile_scalars = (scalars | st.floats(allow_nan=True) | st.integers()
                    | st.text(st.characters(), max_size=4) | st.binary(max_size=3))
_hostile = st.recursive(
    _hostile_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
    | st.dictionaries(st.text(st.characters(), max_size=3) | st.integers(), inner, max_size=4),
    max_leaves=25)


def _outcome(check: Any, value: Any, max_depth: int) -> Any:
    try:
        return check(value, 0, max_depth)
    except Exception as exc:  # the error's class and message are the outcome
        return type(exc), str(exc)


@settings(max_examples=400, deadline=None)
@given(_hostile, st.integers(min_value=1, max_value=6))
def test_fast_profile_check_matches_reference_walk(value: Any, max_depth: int) -> None:
    from sceau import canonical

    assert _outcome(canonical._check, value, max_depth) == _outcome(
        canonical._check_stack, value, max_depth)
