"""Reading one HTTP request off a real socket, for the tests' small receivers."""

from __future__ import annotations

import socket


def read_request(conn: socket.socket) -> tuple[str, bytes]:
    """(request line, body) of one request with a Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")).split(b":")[1])
    while len(body) < length:
        body += conn.recv(1 << 20)
    return head.split(b"\r\n")[0].decode(), body
