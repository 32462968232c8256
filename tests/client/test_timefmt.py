"""Timestamps (docs/SPEC.md §2.4): RFC 3339, UTC, whole seconds, 'Z' — one form only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sceau.timefmt import format_time, parse_time


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                    timezones=st.just(UTC)))
def test_round_trip(when: datetime) -> None:
    text = format_time(when)
    assert len(text) == 20
    assert parse_time(text) == when.replace(microsecond=0)
    assert format_time(parse_time(text)) == text


def test_format() -> None:
    assert format_time(datetime(2026, 3, 14, 9, 26, 53, 999_999, tzinfo=UTC)) == (
        "2026-03-14T09:26:53Z")
    paris = timezone(timedelta(hours=1))
    assert format_time(datetime(2026, 3, 14, 10, 26, 53, tzinfo=paris)) == (
        "2026-03-14T09:26:53Z")
    assert format_time(datetime(999, 1, 2, tzinfo=UTC)) == "0999-01-02T00:00:00Z"
    with pytest.raises(ValueError):
        format_time(datetime(2026, 3, 14))  # naive


@pytest.mark.parametrize("text", [
    "2026-03-14T09:26:53.5Z", "2026-03-14T09:26:53+00:00", "2026-03-14t09:26:53z",
    "2026-03-14 09:26:53Z", "2026-03-14T09:26Z", "2026-3-14T09:26:53Z", "2026-03-14",
    "2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "2026-03-14T24:00:00Z",
    "2016-12-31T23:59:60Z", "0000-01-01T00:00:00Z", " 2026-03-14T09:26:53Z",
    "2026-03-14T09:26:53Z\n", "٢٠٢٦-03-14T09:26:53Z", "２０２６-03-14T09:26:53Z", "",
])
def test_rejects_every_other_form(text: str) -> None:
    with pytest.raises(ValueError):
        parse_time(text)


@pytest.mark.parametrize("value", [None, 1773480413, b"2026-03-14T09:26:53Z"])
def test_rejects_non_strings(value: object) -> None:
    with pytest.raises(ValueError):
        parse_time(value)  # type: ignore[arg-type]
