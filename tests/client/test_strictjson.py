"""The strict JSON profile (docs/SPEC.md §2): round trips and every rejection."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sceau.canonical import canonicalize
from sceau.errors import (
    DuplicateKeyError,
    FloatNotAllowedError,
    IntegerOutOfRangeError,
    MalformedJSONError,
    NestingTooDeepError,
    PayloadTooLargeError,
)
from sceau.strictjson import MAX_DEPTH, MAX_SAFE_INTEGER, loads

chars = st.characters(codec="utf-8")
strings = st.text(chars, max_size=10) | st.sampled_from(
    ["", "\U0001f600", "\ufb33", "\x00\x1f", '"\\/', "\u2028", "été"])
scalars = (st.none() | st.booleans()
           | st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER) | strings)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(strings, inner, max_size=4), max_leaves=20)
containers = st.lists(values, max_size=4) | st.dictionaries(strings, values, max_size=4)


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


def _same(a: Any, b: Any) -> bool:
    """Equality that tells True from 1 (canonical bytes carry the JSON types)."""
    return a == b and canonicalize(a, max_depth=1000) == canonicalize(b, max_depth=1000)


@settings(max_examples=300, deadline=None)
@given(values)
def test_round_trip(value: Any) -> None:
    if _depth(value) > MAX_DEPTH:
        return
    assert _same(loads(canonicalize(value)), value)
    # Non-canonical but valid spellings parse to the same value: whitespace, \u escapes
    # (astral characters as surrogate pairs), str input.
    loose = json.dumps(value, indent=1, ensure_ascii=True)
    assert _same(loads(loose.encode("ascii")), value)
    assert _same(loads(loose), value)


@settings(max_examples=60, deadline=None)
@given(containers)
def test_every_truncation_is_malformed(value: Any) -> None:
    """Every strict prefix of an object or array document is rejected, always with a
    MalformedJSONError (never an other exception)."""
    if _depth(value) > MAX_DEPTH:
        return
    data = json.dumps(value, ensure_ascii=False).encode("utf-8")
    for cut in range(len(data)):
        with pytest.raises(MalformedJSONError):
            loads(data[:cut])


def test_every_truncation_of_a_claim_like_document() -> None:
    doc = ('{"a":[1,-2,true,false,null,{"b":"\\u00e9\\n\\ud83d\\ude00"}],'
           '"c":"été 🌧","d":9007199254740991}').encode()
    loads(doc)
    for cut in range(len(doc)):
        with pytest.raises(MalformedJSONError):
            loads(doc[:cut])


@pytest.mark.parametrize("text", [
    '{"a":1,"a":1}',
    '{"a":1,"b":2,"a":3}',
    '{"x":{"k":true,"k":false}}',
    '[{"ok":1},{"dup":1,"dup":2}]',
    '{"a":{"b":{"c":{"d":1,"d":1}}}}',
    '{"\\u0061":1,"a":2}',  # the same name, once escaped
])
def test_duplicate_member_names(text: str) -> None:
    with pytest.raises(DuplicateKeyError):
        loads(text)


@pytest.mark.parametrize("text", [
    "1.0", "1e2", "1E2", "1e+2", "1e-2", "-0.0", "0.5", "[1.5]", '{"a":-1.25e10}', "0e0",
    "100000000000000000000.0",
])
def test_floats(text: str) -> None:
    with pytest.raises(FloatNotAllowedError):
        loads(text)


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "[NaN]", '{"x":Infinity}'])
def test_nan_and_infinity(text: str) -> None:
    with pytest.raises(FloatNotAllowedError):
        loads(text)


@pytest.mark.parametrize("text", [
    str(2**53), str(-(2**53)), str(2**64), "[" + str(10**17) + "]", "123456789012345678",
])
def test_integers_beyond_the_safe_range(text: str) -> None:
    with pytest.raises(IntegerOutOfRangeError):
        loads(text)


def test_integer_range_limits_are_inclusive() -> None:
    assert loads(str(MAX_SAFE_INTEGER)) == MAX_SAFE_INTEGER
    assert loads(str(-MAX_SAFE_INTEGER)) == -MAX_SAFE_INTEGER
    assert loads("-0") == 0


@pytest.mark.parametrize("digits", [18, 4301, 500_000])
def test_huge_digit_strings(digits: int) -> None:
    with pytest.raises(IntegerOutOfRangeError):
        loads(b"9" * digits)
    with pytest.raises(IntegerOutOfRangeError):
        loads(b'{"n":-' + b"1" * digits + b"}")


@pytest.mark.parametrize("opening", ["[", '{"a":', '[{"a":'])
def test_very_deep_nesting_is_rejected_without_crashing(opening: str) -> None:
    n = 100_000
    closing = {"[": "]", '{"a":': "}", '[{"a":': "}]"}[opening]
    with pytest.raises(NestingTooDeepError):
        loads(opening * n + "0" + closing * n)
    with pytest.raises(MalformedJSONError):  # unterminated as well
        loads(opening * n)


def test_depth_limit_is_exact() -> None:
    assert loads("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    with pytest.raises(NestingTooDeepError):
        loads("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    with pytest.raises(NestingTooDeepError):
        loads('{"a":' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1))
    with pytest.raises(NestingTooDeepError):
        loads("[[[]]]", max_depth=2)
    assert loads("[[]]", max_depth=2) == [[]]
    # Brackets inside strings do not count.
    assert loads('["' + "[" * 100 + '"]') == ["[" * 100]


@pytest.mark.parametrize("data", [
    b"\xef\xbb\xbf{}", "\ufeff{}", b"\xef\xbb\xbf[1]",
])
def test_byte_order_mark(data: bytes | str) -> None:
    with pytest.raises(MalformedJSONError):
        loads(data)


@pytest.mark.parametrize("data", [
    b'"\xff"', b'"\xc3"', b'"\xc0\xaf"', b'"\xed\xa0\x80"', b'"\xf4\x90\x80\x80"',
    b'{"\xfe":1}', b"\x80",
])
def test_invalid_utf8(data: bytes) -> None:
    with pytest.raises(MalformedJSONError):
        loads(data)


@pytest.mark.parametrize("text", [
    r'"\ud800"', r'"\udfff"', r'"a\ud83d"', r'"\ude00\ud83d"', r'{"\ud800":1}',
    r'[["\uDBFF"]]', '"\ud800"',
])
def test_lone_surrogates(text: str) -> None:
    with pytest.raises(MalformedJSONError):
        loads(text)


def test_escaped_surrogate_pair_is_one_character() -> None:
    assert loads(r'"\ud83d\ude00"') == "\U0001f600"
    assert loads(r'"\\ud800"') == "\\ud800"  # an escaped backslash, not an escape


def test_oversize() -> None:
    doc = b"[" + b"0," * 600 + b"0]"
    assert len(loads(doc, max_bytes=len(doc))) == 601
    with pytest.raises(PayloadTooLargeError):
        loads(doc, max_bytes=len(doc) - 1)
    with pytest.raises(PayloadTooLargeError):
        loads(b" " * ((1 << 20) + 1))


@pytest.mark.parametrize("text", [
    "", " ", "{", "}", "[1,]", '{"a":1,}', "[1 2]", "{'a':1}", '{"a" 1}', "01", "-",
    "+1", ".5", "1.", "tru", "nul", "[1]x", "{} {}", '"\x01"', '"\t"', '"\\x41"',
    '"\\u12"', "/* c */ 1", "\x0b1", "\u00a01",
])
def test_not_json(text: str) -> None:
    with pytest.raises(MalformedJSONError):
        loads(text)


def test_accepts_json_whitespace_and_every_input_type() -> None:
    assert loads(" \t\r\n[1]\n") == [1]
    assert loads(bytearray(b"[1]")) == [1]
    assert loads(memoryview(b"[1]")) == [1]


def test_errors_carry_stable_codes() -> None:
    for text, code in [('{"a":1,"a":2}', "duplicate_key"), ("1.5", "float_not_allowed"),
                       (str(2**60), "integer_out_of_range"), ("[" * 40 + "]" * 40,
                                                               "nesting_too_deep"),
                       ("nope", "malformed_json")]:
        with pytest.raises(MalformedJSONError) as info:
            loads(text)
        assert info.value.code == code
