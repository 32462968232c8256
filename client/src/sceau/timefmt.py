"""Timestamps on the wire: RFC 3339 in UTC, whole seconds, ``Z`` suffix (SPEC.md §2.4)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

__all__ = ["format_time", "parse_time"]

#: ASCII digits only: ``\d`` would also match other scripts' digits, which strptime accepts.
_RFC3339_UTC = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


def format_time(when: datetime) -> str:
    """Format an aware datetime as ``YYYY-MM-DDTHH:MM:SSZ`` (sub-seconds dropped)."""
    if when.tzinfo is None:
        raise ValueError("naive datetime: pass an aware one (UTC)")
    t = when.astimezone(UTC)
    # Not strftime: its %Y does not zero-pad years before 1000 on every platform.
    return (f"{t.year:04d}-{t.month:02d}-{t.day:02d}"
            f"T{t.hour:02d}:{t.minute:02d}:{t.second:02d}Z")


def parse_time(text: str) -> datetime:
    """Parse the one accepted form; raise ValueError on any other."""
    if not isinstance(text, str) or _RFC3339_UTC.fullmatch(text) is None:
        raise ValueError("time must be RFC 3339 UTC with whole seconds: YYYY-MM-DDTHH:MM:SSZ")
    # The fields are ASCII digits (checked above); datetime() rejects what strptime would
    # (year 0, month 13, February 30, hour 24, second 60) without strptime's slow first call
    # (it imports _strptime and compiles its regexes: milliseconds for a one-file CLI run).
    return datetime(int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]),
                    int(text[14:16]), int(text[17:19]), tzinfo=UTC)
