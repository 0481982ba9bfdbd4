"""Bad input met at run time: one clear line naming the problem, no traceback, nothing touched."""

from __future__ import annotations

import json
import os
import socket

import pytest

from tests.e2e.conftest import DrillLab
from tests.e2e.test_drill import phase


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cases(lab: DrillLab) -> dict[str, tuple[list[str], str]]:
    """name: (--set overrides, the start of the preflight message)"""
    api, graph = lab.lab.settings()["api_port"], lab.lab.settings()["stackgraph_port"]
    dead = closed_port()
    home = lab.home
    return {
        "es-closed-port": ([f"elasticsearch.url=http://127.0.0.1:{dead}"],
                           f"Elasticsearch at http://127.0.0.1:{dead} is unreachable"),
        "es-url-is-stackstate": ([f"elasticsearch.url=http://127.0.0.1:{api}"],
                                 f"http://127.0.0.1:{api} is not Elasticsearch: GET / answered HTTP 404"),
        "es-url-answers-200-not-es": ([f"elasticsearch.url=http://127.0.0.1:{graph}/health"],
                                      f"http://127.0.0.1:{graph}/health is not Elasticsearch: it answers, but"),
        "repository-outside-path-repo": (["elasticsearch.repository=out", "elasticsearch.repository_location=/tmp/x"],
                                         "cannot register snapshot repository 'out' at /tmp/x"),
        "backup-dir-missing": (["stackstate.backup_dir=/nonexistent/backups"],
                               "backup folder /nonexistent/backups does not exist on local://"),
        "backup-dir-is-a-file": ([f"stackstate.backup_dir={home}/etc/lab.json"],
                                 f"backup folder {home}/etc/lab.json does not exist on local://"),
        "log-file-missing": (["stackstate.log_file={home}/var/log/nope.log"],
                             f"log file {home}/var/log/nope.log not found on local://"),
        "not-enough-space": (["target.min_free_mb=100000000"], "only "),
        "owner-unknown": (["target.owner=no-such-user-xyz"], "backup folder"),
        "target-ssh-refused": ([f"target.url=ssh://root@127.0.0.1:{dead}"], f"cannot run commands on ssh://root@127.0.0.1:{dead}"),
        "stackgraph-unit-wrong": (["service.stackgraph_status_command=false"], "StackGraph (stackgraph) is inactive"),
    }  # fmt: skip


CASES = [
    "es-closed-port", "es-url-is-stackstate", "es-url-answers-200-not-es", "repository-outside-path-repo",
    "backup-dir-missing", "backup-dir-is-a-file", "log-file-missing", "not-enough-space", "owner-unknown",
    "target-ssh-refused", "stackgraph-unit-wrong",
]  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_bad_runtime_input_fails_preflight_in_one_line(drill_lab: DrillLab, case: str) -> None:
    overrides, start = cases(drill_lab)[case]
    log_before = drill_lab.log_text()
    result = drill_lab.run(*[arg for o in overrides for arg in ("--set", o)])
    unreachable = case in ("es-closed-port", "target-ssh-refused")  # infrastructure, not a finding: exit 3
    assert result.returncode == (3 if unreachable else 1), result.stdout[-2000:]
    message = phase(drill_lab.evidence(), "preflight")["message"]
    assert message.startswith(start), message
    assert "\n" not in message and "Traceback" not in result.stdout + result.stderr
    assert f"phase preflight failed: {message}" in result.stdout
    assert drill_lab.node_active() and drill_lab.log_text() == log_before  # nothing was touched
    assert not (drill_lab.home / "var" / "drtests.lock").exists()


SECRET = "s3cr3t-Pa55word-do-not-leak"


def test_secrets_from_the_environment_never_reach_reports_logs_or_output(drill_lab: DrillLab) -> None:
    drill_lab.config.write_text(
        drill_lab.config.read_text().replace(
            "[elasticsearch]\n", '[elasticsearch]\nusername_env = "DRT_USER"\npassword_env = "DRT_PASSWORD"\n'
        )  # fmt: skip
    )
    env = dict(os.environ, DRT_USER="drill-operator", DRT_PASSWORD=SECRET)
    result = drill_lab.run("--", "-rA", env=env)
    assert result.returncode == 0, result.stdout[-3000:]
    assert SECRET not in result.stdout + result.stderr
    for path in drill_lab.reports.rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(errors="replace"), path
    assert SECRET not in drill_lab.log_text()
    assert SECRET not in drill_lab.config.read_text()


def test_credentials_reach_a_secured_cluster_and_wrong_ones_are_named(drill_lab: DrillLab, tmp_path) -> None:
    from fixtures import auth_proxy

    folder = tmp_path / "nginx"
    url = auth_proxy.start(folder, drill_lab.es_url, "drill", "right-password")
    try:
        drill_lab.config.write_text(
            drill_lab.config.read_text().replace(f'url = "{drill_lab.es_url}"', f'url = "{url}"')
            .replace("[elasticsearch]\n", '[elasticsearch]\nusername_env = "DRT_USER"\npassword_env = "DRT_PASSWORD"\n')
        )  # fmt: skip
        right = drill_lab.run(env=dict(os.environ, DRT_USER="drill", DRT_PASSWORD="right-password"))
        assert right.returncode == 0, right.stdout[-2000:]
        wrong = drill_lab.run(env=dict(os.environ, DRT_USER="drill", DRT_PASSWORD="wrong-password"))
        assert wrong.returncode == 1
        message = phase(drill_lab.evidence(), "preflight")["message"]
        assert message == (f"Elasticsearch at {url} refused the credentials (HTTP 401): check the variables named by "
                           "elasticsearch.username_env/password_env/api_key_env")  # fmt: skip
        assert "wrong-password" not in wrong.stdout + json.dumps(drill_lab.evidence())
    finally:
        auth_proxy.stop(folder)


def test_a_report_dir_that_is_a_file_stops_the_run_before_the_target_is_touched(drill_lab: DrillLab) -> None:
    log_before = drill_lab.log_text()
    not_a_folder = drill_lab.config.parent / "reports-file"
    not_a_folder.write_text("x")
    result = drill_lab.run("--report-dir", str(not_a_folder))  # DrillRunner passes its own first: this one wins
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert f"--report-dir {not_a_folder}: is not a folder" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert drill_lab.log_text() == log_before and drill_lab.node_active()  # the node was not stopped
