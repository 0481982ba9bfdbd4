"""The set-up step of `make drill` and `make test`: what it finds missing and would install."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

DEPS = Path(__file__).resolve().parents[2] / "fixtures" / "deps.py"


def dry_run(target: str, path: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(DEPS), target, "--dry-run"], capture_output=True, text=True,
                          env={"PATH": path}, timeout=60)  # fmt: skip


@pytest.mark.parametrize(
    ("target", "packages"),
    [
        ("drill", "maven openjdk-17-jdk-headless"),
        (
            "test",
            "chromium debootstrap docker.io maven nginx openjdk-17-jdk-headless openssh-client prometheus "
            "prometheus-node-exporter prometheus-pushgateway",
        ),
    ],
)
def test_a_machine_without_the_tools_gets_the_one_command_that_installs_them(
    tmp_path: Path, target: str, packages: str
) -> None:
    result = dry_run(target, str(tmp_path))  # a PATH with none of the tools
    assert result.returncode == 2
    assert result.stdout.splitlines()[-1].endswith(f"install them with: apt-get install -y -q {packages}")
    assert f"make {target}: java not found (the lab's Elasticsearch node): package openjdk-17-jdk-headless" in (
        result.stdout
    )


def test_a_machine_with_every_tool_needs_nothing(tmp_path: Path) -> None:
    for tool in (
        "java",
        "mvn",
        "dockerd",
        "debootstrap",
        "ssh",
        "chromium",
        "nginx",
        "prometheus",
        "prometheus-pushgateway",
        "prometheus-node-exporter",
    ):
        (tmp_path / tool).write_text("#!/bin/sh\n")
        (tmp_path / tool).chmod(0o755)
    result = dry_run("test", str(tmp_path))
    assert (result.returncode, result.stdout) == (0, "")
