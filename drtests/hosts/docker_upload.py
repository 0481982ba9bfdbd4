"""Copy a local file into a container through the Docker engine's unix socket with os.sendfile.

docker-py's put_archive streams through chunked encoding that copies every chunk twice: 2-3x
slower than `docker cp` for a 1 GiB backup (bench/RESULTS.md). Here the body is a one-member
tar archive whose header and trailer are written around the file, and the kernel moves the
file's bytes: one PUT /containers/<id>/archive, faster than `docker cp`.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tarfile
import time
from pathlib import PurePosixPath
from urllib.parse import quote as url_quote

from drtests.errors import DrillError


def tar_frame(name: str, size: int) -> tuple[bytes, bytes]:
    """The header and the trailer (padding + end blocks) around `size` bytes of file `name`: a
    one-member tar archive whose body can be streamed, never held whole."""
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o644, int(time.time())
    return info.tobuf(format=tarfile.PAX_FORMAT), b"\0" * ((-size) % tarfile.BLOCKSIZE + 2 * tarfile.BLOCKSIZE)


def send_file(socket_path: str, archive_api: str, folder: str, path: str, where: str, timeout: float = 300) -> None:
    """PUT `path` as a tar archive to `archive_api` (/v1.x/containers/<id>/archive) for `folder`.
    Raises DrillError with the engine's own words when it refuses; `where` names the destination.
    Every wait on the engine (to take more bytes, to answer) ends after `timeout` seconds: a copy
    that stalls or breaks fails the restore in words, it never hangs it."""
    request = (f"PUT {archive_api}?path={url_quote(folder, safe='')} HTTP/1.1\r\nHost: docker\r\n"
               "Content-Type: application/x-tar\r\n")  # fmt: skip
    with open(path, "rb") as f, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        size = os.fstat(f.fileno()).st_size
        head, tail = tar_frame(PurePosixPath(path).name, size)
        sock.settimeout(timeout)
        sock.connect(socket_path)
        length = len(head) + size + len(tail)
        failed, broken = f"cannot copy {path} into {where}", None
        try:
            sock.sendall(f"{request}Content-Length: {length}\r\nConnection: close\r\n\r\n".encode() + head)
            sent = sock.sendfile(f, 0, size)  # the kernel moves the bytes; waits honour the timeout
            if sent < size:
                raise DrillError(f"{path} ended after {sent} of {size} bytes while it was copied")
            sock.sendall(tail)
        except TimeoutError:
            raise DrillError(
                f"{failed}: the Docker engine took no more of it for {timeout:g}s (the copy stalled)"
            ) from None
        except OSError as exc:  # the engine refused early (e.g. no such folder) and hung up: read what it said
            broken = exc
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except TimeoutError:
            raise DrillError(f"{failed}: the Docker engine did not answer within {timeout:g}s") from None
        except OSError:
            pass
    if broken is not None and not answer:
        raise DrillError(f"{failed}: the copy broke: {broken}")
    check_answer(answer, failed)


def check_answer(answer: bytes, failed: str) -> None:
    """Raise DrillError("<failed>: ...") unless the engine's HTTP answer is 200."""
    status_line, _, rest = answer.partition(b"\r\n")
    if not answer:
        raise DrillError(f"{failed}: the Docker engine closed the connection")
    if status_line.split(b" ")[1:2] != [b"200"]:
        body = rest.partition(b"\r\n\r\n")[2].decode(errors="replace").strip()
        with contextlib.suppress(ValueError, AttributeError):
            body = json.loads(body).get("message", body)
        status = status_line.decode(errors="replace").partition(" ")[2]
        raise DrillError(f"{failed}: the Docker engine answered {status}: {body[:300]}")
