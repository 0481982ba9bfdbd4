"""Trusted time (RFC 3161): a time-stamping authority signs the sha256 of a statement and the
time it saw it, so the evidence provably existed then, whoever holds the drill's key. `openssl
ts` builds the query and checks the reply; the reply is stored beside what it stamps, and
`openssl ts -verify -data F -in F.tsr -CAfile tsa-ca.pem` accepts it without drtests."""

from __future__ import annotations

import subprocess
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from drtests.errors import DrillError


def _openssl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", "ts", *args], capture_output=True, text=True, timeout=60)


def timestamp(data: bytes, url: str, timeout: float) -> bytes:
    """The TSA's reply (DER) over sha256(data); DrillError with what went wrong."""
    with tempfile.TemporaryDirectory(prefix="drtests-tsa-") as tmp:
        data_file, query = Path(tmp) / "data", Path(tmp) / "query.tsq"
        data_file.write_bytes(data)
        made = _openssl("-query", "-data", str(data_file), "-sha256", "-cert", "-out", str(query))
        if made.returncode != 0:
            raise DrillError(f"openssl ts -query failed: {made.stderr.strip()[-200:]}")
        request = urllib.request.Request(url, data=query.read_bytes(), method="POST",
                                         headers={"Content-Type": "application/timestamp-query"})  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (the configured TSA)
                reply = response.read()
        except (urllib.error.URLError, OSError) as exc:
            raise DrillError(f"time-stamping authority {url}: {getattr(exc, 'reason', exc)}") from None
        reply_file = Path(tmp) / "reply.tsr"
        reply_file.write_bytes(reply)
        shown = _openssl("-reply", "-in", str(reply_file), "-text")
        if shown.returncode != 0 or "Status: Granted." not in shown.stdout:
            raise DrillError(f"time-stamping authority {url} did not grant a timestamp")
        return reply  # whose authority it is, the verifier decides (verify-evidence --tsa-ca)


def verify(data: bytes, reply: bytes, ca_file: Path) -> tuple[bool, str]:
    """Whether `reply` is a valid timestamp over `data` by a TSA that ca_file vouches for; the
    time it states (or openssl's complaint)."""
    with tempfile.TemporaryDirectory(prefix="drtests-tsa-") as tmp:
        data_file, reply_file = Path(tmp) / "data", Path(tmp) / "reply.tsr"
        data_file.write_bytes(data)
        reply_file.write_bytes(reply)
        checked = _openssl("-verify", "-data", str(data_file), "-in", str(reply_file), "-CAfile", str(ca_file))
        if checked.returncode != 0:
            said = (checked.stdout + checked.stderr).strip().splitlines()
            return False, (said or ["openssl ts -verify failed"])[-1]
        shown = _openssl("-reply", "-in", str(reply_file), "-text")
    when = next((line.split(":", 1)[1].strip() for line in shown.stdout.splitlines() if line.startswith("Time stamp:")),
                "?")  # fmt: skip
    return True, when
