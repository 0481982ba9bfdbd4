"""Elasticsearch answers 429 when a circuit breaker trips or a queue is full: "later". The real
node sits behind a small forwarding proxy that answers 429 to the first requests of one kind,
as a node short of heap does; drtests' client tries again, backing off, and the request goes
through (the bench saw a 429 fail the safety step that deletes the restored copies)."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from elasticsearch import exceptions as es_errors

from drtests.config import load
from drtests.es import client

BREAKER = {"error": {"type": "circuit_breaking_exception", "reason": "[parent] Data too large", "durability":
                     "TRANSIENT"}, "status": 429}  # fmt: skip


class BusyProxy:
    """Forwards every request to `upstream`, but answers 429 to the first `busy` requests whose
    method is `method`; `seen` counts those requests (refused and forwarded)."""

    def __init__(self, upstream: str, method: str, busy: int) -> None:
        self.upstream, self.method, self.busy, self.seen = upstream, method, busy, 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or None
                if self.command == proxy.method:
                    proxy.seen += 1
                    if proxy.seen <= proxy.busy:
                        return self._answer(429, {"Content-Type": "application/json"}, json.dumps(BREAKER).encode())
                headers = {k: v for k, v in self.headers.items() if k != "Host"}
                request = urllib.request.Request(proxy.upstream + self.path, body, headers, method=self.command)
                try:
                    with urllib.request.urlopen(request, timeout=60) as answer:
                        self._answer(answer.status, dict(answer.headers), answer.read())
                except urllib.error.HTTPError as refused:
                    self._answer(refused.code, dict(refused.headers), refused.read())

            def _answer(self, status: int, headers: dict, payload: bytes) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(key, value)
                self.send_header("X-Elastic-Product", "Elasticsearch")  # as the node says on every answer
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any  # noqa: N815  (http.server's names)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def index(es: Elasticsearch) -> Iterator[str]:
    name = "busytest-2026.12.01"
    es.index(index=name, id="1", document={"v": 1}, refresh=True)
    yield name
    es.indices.delete(index=name, ignore_unavailable=True)


def connected(url: str, tmp_path: Path) -> Elasticsearch:
    (tmp_path / "d.toml").write_text(f'[elasticsearch]\nurl = "{url}"\n')
    return client.connect(load(tmp_path / "d.toml"))


def test_a_delete_elasticsearch_answers_429_to_goes_through_once_it_accepts(
    es: Elasticsearch, es_url: str, index: str, tmp_path: Path
) -> None:
    proxy = BusyProxy(es_url, "DELETE", busy=3)
    try:
        client.delete_indices(connected(proxy.url, tmp_path), [index])
    finally:
        proxy.server.shutdown()
    assert proxy.seen == 4  # three refused, the fourth carried out
    assert not es.indices.exists(index=index)


def test_a_node_that_stays_busy_is_named_after_the_retry_deadline(
    es_url: str, index: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client, "BUSY_RETRY_S", 2.0)
    proxy = BusyProxy(es_url, "DELETE", busy=10_000)
    try:
        with pytest.raises(es_errors.TransportError) as refused:
            client.delete_indices(connected(proxy.url, tmp_path), [index])
    finally:
        proxy.server.shutdown()
    assert refused.value.status_code == 429 and refused.value.error == "circuit_breaking_exception"
    assert 3 <= proxy.seen <= 8  # tried again, backing off (0.25, 0.5, 1 s ...), then gave up
