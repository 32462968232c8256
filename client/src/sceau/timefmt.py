"""Timestamps on the wire: RFC 3339 in UTC, whole seconds, ``Z`` suffix (SPEC.md §2.4)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

__all__ = ["format_time", "parse_time"]

_RFC3339_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def format_time(when: datetime) -> str:
    """Format an aware datetime as ``YYYY-MM-DDTHH:MM:SSZ`` (sub-seconds dropped)."""
    if when.tzinfo is None:
        raise ValueError("naive datetime: pass an aware one (UTC)")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """Parse the one accepted form; raise ValueError on any other."""
    if not isinstance(text, str) or _RFC3339_UTC.fullmatch(text) is None:
        raise ValueError("time must be RFC 3339 UTC with whole seconds: YYYY-MM-DDTHH:MM:SSZ")
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
