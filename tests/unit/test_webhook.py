"""The webhook at the end of a drill against real receivers on 127.0.0.1 that misbehave: its
failure is one line, within the overall deadline, never a crash."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from drtests.notify import send_webhook


@pytest.fixture
def receiver() -> Iterator[Callable[[Callable[[socket.socket], None]], str]]:
    """A TCP server on 127.0.0.1 whose connections `behave` handles; yields its URL maker."""
    servers: list[socket.socket] = []

    def start(behave: Callable[[socket.socket], None]) -> str:
        server = socket.create_server(("127.0.0.1", 0))
        servers.append(server)

        def serve() -> None:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                behave(conn)

        threading.Thread(target=serve, daemon=True).start()
        return f"http://127.0.0.1:{server.getsockname()[1]}/hook"

    yield start
    for server in servers:
        server.close()


def test_an_answer_that_is_not_http_is_a_warning(receiver) -> None:
    url = receiver(lambda conn: conn.sendall(b"garbage\r\n\r\n"))
    problem = send_webhook(url, {"verdict": "pass"}, timeout=5)
    assert problem is not None and problem.startswith("webhook failed: "), problem


def test_a_receiver_that_drips_forever_meets_the_overall_deadline(receiver) -> None:
    def drip(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        for _ in range(60):
            time.sleep(0.5)
            try:
                conn.sendall(b"X-Slow: 1\r\n")
            except OSError:
                return

    problem = send_webhook(receiver(drip), {"verdict": "pass"}, timeout=2)
    assert problem == "webhook did not answer within 2s (webhook_timeout)"


def test_a_receiver_that_never_answers_meets_the_deadline(receiver) -> None:
    problem = send_webhook(receiver(lambda conn: time.sleep(10)), {"verdict": "pass"}, timeout=1)
    assert problem == "webhook did not answer within 1s (webhook_timeout)"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("file:///etc/passwd", "webhook URL must be http:// or https://, got a file: URL"),
        ("not a url", "webhook URL must be http:// or https://, got a URL without a scheme"),
    ],
)
def test_only_http_urls_are_posted_to(url: str, problem: str) -> None:
    assert send_webhook(url, {"verdict": "pass"}, timeout=1) == problem


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://[::1/hook?token=s3cret", "webhook URL is not a URL"),  # urlsplit raises ValueError
        ("http://127.0.0.1:1/hook?token=s3cret value", "webhook URL is not valid"),  # http.client.InvalidURL
    ],
)
def test_a_malformed_url_is_a_warning_that_never_shows_its_token(url: str, problem: str) -> None:
    said = send_webhook(url, {"verdict": "pass"}, timeout=2)
    assert said == f"{problem} (the URL is not shown: its path and query may hold a token)"
    assert "s3cret" not in said
