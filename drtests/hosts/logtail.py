"""Follow a log file on the target from an offset taken before a command, and match its lines."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from drtests.hosts.host import TargetHost


@dataclass
class LogWindow:
    """The lines a log gained since `offset`: what one import wrote."""

    host: TargetHost
    path: str
    offset: int
    lines: list[str] = field(default_factory=list)
    _partial: bytes = b""  # the last line's start, until its newline comes
    _read: int = 0  # bytes read past `offset` so far

    @classmethod
    def open_at_end(cls, host: TargetHost, path: str) -> LogWindow:
        return cls(host, path, host.file_size(path))

    def poll(self) -> list[str]:
        """Read what was appended since the last poll; return the new complete lines."""
        new = self.host.read_from(self.path, self.offset + self._read)
        self._read += len(new)
        *complete, self._partial = (self._partial + new).split(b"\n")
        lines = [line.decode(errors="replace") for line in complete]  # whole lines: no character is cut
        self.lines.extend(lines)
        return lines

    def first(self, pattern: str) -> re.Match | None:
        regex = re.compile(pattern)
        return next((m for line in self.lines if (m := regex.search(line))), None)

    def matching(self, pattern: str) -> list[str]:
        regex = re.compile(pattern)
        return [line for line in self.lines if regex.search(line)]

    def excerpt(self, limit: int = 40) -> list[str]:
        return (
            self.lines[:limit]
            if len(self.lines) <= limit
            else self.lines[: limit // 2] + ["..."] + self.lines[-limit // 2 :]
        )
