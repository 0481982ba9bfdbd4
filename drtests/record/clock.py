"""The one clock of the evidence: UTC times as the evidence writes them (ISO 8601, "Z")."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> str:
    """Now, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def utc_ms(epoch_s: float | None = None) -> str:
    """`epoch_s` (default now), to the millisecond: which steps overlapped, in what order."""
    moment = datetime.fromtimestamp(epoch_s, UTC) if epoch_s is not None else datetime.now(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_at(epoch_s: float) -> str:
    """`epoch_s`, to the second (a file's mtime, a recording's time)."""
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_utc(stamp: str) -> datetime:
    """A time as the evidence writes it ("2026-03-01T00:00:00Z"), back to an aware datetime."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
