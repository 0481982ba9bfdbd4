"""Notifications through Apprise to real receivers on 127.0.0.1 (Apprise's json://): the message a
person reads, and a receiver that fails being only a warning, within the deadline."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from drtests.config import load
from drtests.notify import message, notify
from drtests.record.drill import Drill
from tests.unit.http_request import read_request


@pytest.fixture
def receiver() -> Iterator[Callable[[bytes | None], tuple[str, list]]]:
    """A receiver answering `answer` (None: never answers); returns its json:// URL and what came."""
    servers: list[socket.socket] = []

    def start(answer: bytes | None) -> tuple[str, list]:
        server = socket.create_server(("127.0.0.1", 0))
        servers.append(server)
        got: list = []

        def serve() -> None:
            conn, _ = server.accept()
            with conn:
                got.append(json.loads(read_request(conn)[1]))
                if answer is None:
                    time.sleep(30)
                else:
                    conn.sendall(answer)

        threading.Thread(target=serve, daemon=True).start()
        return f"json://127.0.0.1:{server.getsockname()[1]}/hook", got

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def failed_drill(tmp_path: Path) -> Drill:
    (tmp_path / "d.toml").write_text('[target]\nname = "prod-eu"\n')
    drill = Drill(load(tmp_path / "d.toml"), target="ssh://sts@prod-eu")
    drill.phase_started("preflight")
    drill.phase_ended("preflight", "fail", "StackGraph is inactive")
    drill.check("verify", "topology Component", 200, 160, message="topology type Component: 200 before, 160 after")
    return drill


def test_a_failed_drill_reaches_a_json_receiver_in_words(receiver, failed_drill: Drill) -> None:
    url, got = receiver(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    title, body = message(failed_drill, "/srv/reports/x/report.html")
    assert notify(url, title, body, failed=True, deadline=10) is None
    (sent,) = got
    assert sent["title"] == "DR drill FAIL: prod-eu" and sent["type"] == "failure"
    assert "RTO: not measured (objective 14400 s)" in sent["message"]
    assert "failed: verify/topology Component: topology type Component: 200 before, 160 after" in sent["message"]
    assert sent["message"].endswith("report: /srv/reports/x/report.html")


def test_a_receiver_answering_garbage_is_a_warning(receiver) -> None:
    url, _ = receiver(b"garbage\r\n\r\n")
    assert notify(url, "t", "b", failed=True, deadline=10) == "notification failed for 1 URL(s)"


def test_a_receiver_that_never_answers_meets_the_deadline(receiver) -> None:
    url, _ = receiver(None)
    assert notify(url, "t", "b", failed=True, deadline=2) == (
        "notification did not go out within 2s (alerts.notify_timeout)"
    )


def test_a_url_apprise_does_not_know_is_named_by_scheme_only() -> None:
    said = notify("nosuchservice://token-s3cr3t@x", "t", "b", failed=False, deadline=2)
    assert said == "notification: not an Apprise URL (nosuchservice://...)" and "s3cr3t" not in said
