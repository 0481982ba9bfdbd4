"""The log window on a real file through real hosts (local://, and docker:// into a lab container):
its offset counts bytes, so a multi-byte character cut between two reads and invalid UTF-8
neither lose nor repeat a line."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest

from drtests.hosts.host import TargetHost
from drtests.hosts.logtail import LogWindow

BODY = "first line é\nbad \xff byte\ncut → here\nlast\n".encode().replace("\xff".encode(), b"\xff")
ARROW = BODY.index("→".encode())  # 3 bytes: the reads below cut it after its first and second byte
PIECES = (BODY[:3], BODY[3 : ARROW + 1], BODY[ARROW + 1 : ARROW + 2], BODY[ARROW + 2 :])
EXPECTED = ["first line é", "bad \ufffd byte", "cut → here", "last"]


def follow(host: TargetHost, path: str, append: Callable[[bytes], None]) -> None:
    append("before the window ü\n".encode())
    window = LogWindow.open_at_end(host, path)
    seen: list[str] = []
    for piece in PIECES:
        append(piece)
        seen += window.poll()
    assert seen == EXPECTED
    append(b"one more\n")
    assert window.poll() == ["one more"]  # nothing repeated, nothing missed


def test_a_local_log(tmp_path: Path) -> None:
    log = tmp_path / "stackstate.log"

    def append(data: bytes) -> None:
        with log.open("ab") as f:
            f.write(data)

    follow(TargetHost("local://"), str(log), append)


@pytest.mark.parametrize("path", ["/opt/stackstate/var/log/window-test.log"])
def test_a_log_in_a_lab_container(lab_container, path: str) -> None:
    host = TargetHost(lab_container.url)

    def append(data: bytes) -> None:
        encoded = base64.b64encode(data).decode()
        assert host.run(f"echo {encoded} | base64 -d >> {path}", 30).rc == 0

    follow(host, path, append)
