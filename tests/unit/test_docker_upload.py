"""The sendfile upload to the Docker engine's archive API, against a real unix-socket server that
answers as the engine does: the body must be a tar archive holding the file, byte for byte."""

from __future__ import annotations

import io
import socket
import tarfile
import threading
from pathlib import Path

import pytest

from drtests.errors import DrillError
from drtests.hosts.docker_upload import send_file
from tests.unit.http_request import read_request


def engine(socket_path: Path, answer: bytes) -> tuple[threading.Thread, dict]:
    """A one-request HTTP server on a unix socket; it keeps what it received."""
    got: dict = {}
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(socket_path))
    server.listen(1)

    def serve() -> None:
        conn, _ = server.accept()
        with conn, server:
            got["request_line"], got["body"] = read_request(conn)
            conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread, got


def test_the_file_arrives_as_a_one_member_tar(tmp_path: Path) -> None:
    backup = tmp_path / "drtests-x.graph"
    backup.write_bytes(bytes(range(256)) * 4099)  # not a multiple of the tar block size
    thread, got = engine(tmp_path / "d.sock", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    send_file(str(tmp_path / "d.sock"), "/v1.43/containers/abc/archive", "/tmp/in here", str(backup), "c:/tmp")
    thread.join(10)
    assert got["request_line"] == "PUT /v1.43/containers/abc/archive?path=%2Ftmp%2Fin%20here HTTP/1.1"
    with tarfile.open(fileobj=io.BytesIO(got["body"])) as tar:
        (member,) = tar.getmembers()
        assert member.name == "drtests-x.graph" and tar.extractfile(member).read() == backup.read_bytes()


def test_a_refusal_is_one_line_with_the_engines_words(tmp_path: Path) -> None:
    backup = tmp_path / "b.graph"
    backup.write_bytes(b"x" * 10)
    body = b'{"message":"Could not find the file /nope in container abc"}'
    answer = b"HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    thread, _ = engine(tmp_path / "d.sock", answer)
    with pytest.raises(DrillError) as caught:
        send_file(str(tmp_path / "d.sock"), "/v1.43/containers/abc/archive", "/nope", str(backup), "c:/nope")
    thread.join(10)
    assert str(caught.value) == (
        f"cannot copy {backup} into c:/nope: the Docker engine answered 404 Not Found: "
        "Could not find the file /nope in container abc"
    )


def silent_engine(socket_path: Path, reads: bool) -> threading.Event:
    """An engine that accepts and then never answers: it reads the whole request (`reads`), or
    takes nothing at all, until told to stop."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(socket_path))
    server.listen(1)
    done = threading.Event()

    def serve() -> None:
        conn, _ = server.accept()
        with conn, server:
            conn.settimeout(0.2)
            while not done.is_set():
                if reads:
                    try:
                        conn.recv(1 << 20)
                    except TimeoutError:
                        pass
                else:
                    done.wait(0.2)

    threading.Thread(target=serve, daemon=True).start()
    return done


@pytest.mark.parametrize(("reads", "said"), [(False, "took no more of it for 1s (the copy stalled)"),
                                             (True, "did not answer within 1s")])  # fmt: skip
def test_an_engine_that_stalls_fails_the_copy_within_its_deadline(tmp_path: Path, reads: bool, said: str) -> None:
    backup = tmp_path / "big.graph"
    backup.write_bytes(b"x" * (32 << 20))  # more than the socket buffers hold
    done = silent_engine(tmp_path / "d.sock", reads)
    try:
        with pytest.raises(DrillError) as caught:
            send_file(str(tmp_path / "d.sock"), "/v1.43/containers/abc/archive", "/tmp", str(backup), "c:/tmp",
                      timeout=1)  # fmt: skip
    finally:
        done.set()
    assert str(caught.value) == f"cannot copy {backup} into c:/tmp: the Docker engine {said}"
