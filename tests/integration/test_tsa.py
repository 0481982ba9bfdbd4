"""RFC 3161 timestamps against a real TSA on loopback (openssl ts -reply behind HTTP): drtests'
client gets one, drtests and `openssl ts -verify` accept it, and reject it for other bytes or
another authority."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from drtests.errors import DrillError
from drtests.sign import tsa
from fixtures import tsa as lab_tsa


def test_a_timestamp_verifies_with_the_tsas_ca_and_only_for_its_bytes(tmp_path: Path) -> None:
    statement = b'{"_type":"https://in-toto.io/Statement/v1"}'
    with lab_tsa.running() as authority:
        reply = tsa.timestamp(statement, authority.url, 10)
        ok, when = tsa.verify(statement, reply, authority.ca)
        assert ok and when.endswith("GMT"), when
        (tmp_path / "s").write_bytes(statement)
        (tmp_path / "s.tsr").write_bytes(reply)
        argv = ["openssl", "ts", "-verify", "-data", str(tmp_path / "s"), "-in", str(tmp_path / "s.tsr")]
        by_openssl = subprocess.run([*argv, "-CAfile", str(authority.ca)], capture_output=True, text=True)
        assert by_openssl.returncode == 0 and "Verification: OK" in by_openssl.stdout
        assert tsa.verify(statement + b" ", reply, authority.ca)[0] is False
        with lab_tsa.running() as other:
            assert tsa.verify(statement, reply, other.ca)[0] is False  # another authority's CA


def test_an_unreachable_authority_is_an_error_in_words() -> None:
    with lab_tsa.running() as authority:
        url = authority.url
    with pytest.raises(DrillError, match="time-stamping authority http://127.0.0.1:"):
        tsa.timestamp(b"x", url, 5)
