"""The shipped systemd units under real systemd: in a lab container (systemd is PID 1 there),
drtests installed beside the install it drills, the timer fires, the service runs a drill, and
systemd shows the drill's result; a failing drill fails the unit and fires OnFailure."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from fixtures.docker import drtests_install
from fixtures.docker.lab_host import LabContainer
from tests.e2e.conftest import wait_for

UNITS = Path(__file__).resolve().parents[2] / "examples" / "systemd"
# The container's own install, drilled in place (the container is thrown away after the test).
CONFIG = b"""
[drill]
name = "systemd-lab"

[target]
url = "local://"
owner = "stackstate"
disposable = true
min_free_mb = 10

[stackstate]
version_command = "{home}/bin/sts version"
import_timeout = 120
export_timeout = 120

[service]
backend = "systemd"
timeout = 60

[probe]
kind = "api"  # the node's API inside the container: ids and content, every node compared

[elasticsearch]
enabled = false

[objectives]
rto_seconds = 600
rpo_seconds = 3600
"""
# Fire a few seconds after the timer starts (instead of Sunday night); the shipped timer is unchanged.
SOON = b"[Timer]\nOnCalendar=\nRandomizedDelaySec=0\nOnActiveSec=1s\nAccuracySec=1s\n"
ON_FAILURE = b'#!/bin/sh\necho "$1" >> /var/lib/drtests/failed-units\n'


class Systemd:
    def __init__(self, lab: LabContainer) -> None:
        self.host = lab.container

    def sh(self, command: str) -> str:
        return self.host.exec(command)

    def show(self, unit: str, *properties: str) -> dict[str, str]:
        out = self.host.exec_argv(["systemctl", "show", unit, "-p", ",".join(properties)])
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def ran_since(self, unit: str, after: int) -> bool:
        """The unit's main process ended after monotonic time `after` (µs) and the unit settled."""
        state = self.show(unit, "ExecMainExitTimestampMonotonic", "ActiveState")
        return int(state["ExecMainExitTimestampMonotonic"] or 0) > after and state["ActiveState"] != "activating"

    def now(self) -> int:
        return int(float(self.sh("cut -d' ' -f1 /proc/uptime")) * 1_000_000)


def test_the_weekly_timer_runs_a_drill_systemd_shows_its_result_and_a_failure_fires_on_failure(
    lab_container: LabContainer,
) -> None:
    systemd = Systemd(lab_container)
    host = lab_container.container
    drtests_install.install(host.container)
    for unit in sorted(UNITS.iterdir()):
        host.put(f"/etc/systemd/system/{unit.name}", unit.read_bytes())
    systemd.sh("mkdir -p /etc/drtests/keys /etc/systemd/system/drtests-drill@lab.timer.d /var/lib/drtests")
    host.put("/etc/drtests/lab.toml", CONFIG)
    host.put("/etc/drtests/on-failure", ON_FAILURE, 0o755)
    host.put("/etc/systemd/system/drtests-drill@lab.timer.d/soon.conf", SOON)
    keygen = systemd.sh("drtests keygen --out /etc/drtests/keys; echo rc=$?")
    assert "rc=0" in keygen, keygen
    host.put("/etc/drtests/lab.env", b"DRTESTS_SIGNING_KEY_FILE=/etc/drtests/keys/drtests.key\n", 0o600)

    verify = systemd.sh(
        "systemd-analyze verify /etc/systemd/system/drtests-*.service /etc/systemd/system/drtests-*.timer; echo rc=$?"
    )
    assert verify.strip().endswith("rc=0") and "drtests" not in verify.replace("rc=0", ""), verify
    systemd.sh("systemctl daemon-reload")
    shipped = systemd.show("drtests-drill@prod.timer", "TimersCalendar", "RandomizedDelayUSec", "Persistent")
    assert "Sun *-*-* 02:00:00" in shipped["TimersCalendar"], shipped
    assert shipped["RandomizedDelayUSec"] == "2h" and shipped["Persistent"] == "yes", shipped

    # A passing drill, started by the timer
    started = systemd.now()
    systemd.sh("systemctl start drtests-drill@lab.timer")
    wait_for(lambda: systemd.ran_since("drtests-drill@lab.service", started), "the timer's drill to end", 240)
    result = systemd.show("drtests-drill@lab.service", "Result", "ExecMainStatus", "ActiveState")
    journal = systemd.sh("journalctl -u drtests-drill@lab.service --no-pager | tail -40")
    assert result == {"Result": "success", "ExecMainStatus": "0", "ActiveState": "inactive"}, journal
    written = systemd.sh("ls /var/lib/drtests/reports/*-systemd-lab-*/evidence.json").split()
    evidence = json.loads(systemd.sh(f"cat {shlex.quote(written[0])}"))
    assert (
        len(written) == 1
        and evidence["name"] == "systemd-lab"
        and evidence["verdict"] == "pass"
        and evidence["signing"]["signed"]
    ), evidence["verdict"]
    answered = [c for c in evidence["checks"] if c["name"] == "node answers the topology probe"]
    assert [(c["verdict"], c["phase"]) for c in answered] == [("pass", "restore")], answered
    verified = systemd.sh("drtests verify-evidence --all --report-dir /var/lib/drtests/reports "
                          "--public-key /etc/drtests/keys/drtests.pub; echo rc=$?")  # fmt: skip
    assert verified.strip().endswith("rc=0"), verified

    # A failing drill: the export fails; the unit fails with the drill's exit code, OnFailure fires,
    # and the node is running again
    lab_container.fault("export_fail")
    started = systemd.now()
    systemd.sh("systemctl restart drtests-drill@lab.timer")
    wait_for(lambda: systemd.ran_since("drtests-drill@lab.service", started), "the failing drill to end", 240)
    result = systemd.show("drtests-drill@lab.service", "Result", "ExecMainStatus", "ActiveState")
    assert result == {"Result": "exit-code", "ExecMainStatus": "1", "ActiveState": "failed"}, result
    wait_for(lambda: "drtests-drill@lab.service" in systemd.sh("cat /var/lib/drtests/failed-units"),
             "OnFailure's drtests-failed@ to run the on-failure hook", 60)  # fmt: skip
    logged = systemd.sh("journalctl -t drtests-failed -p err --no-pager")
    assert "drtests-drill@lab.service" in logged and "status=1/FAILURE" in logged, logged
    assert systemd.sh("systemctl is-active stackstate.service").strip() == "active"
    lab_container.fault()

    # A config error is exit 2, shown as INVALIDARGUMENT; nothing is touched
    systemd.sh("systemctl start drtests-drill@missing.service")
    result = systemd.show("drtests-drill@missing.service", "Result", "ExecMainStatus")
    assert result == {"Result": "exit-code", "ExecMainStatus": "2"}, result
    assert "status=2/INVALIDARGUMENT" in systemd.sh("systemctl status --no-pager drtests-drill@missing.service")

    # The status unit: passes while the last pass is recent, fails (and notifies) once it is too old
    systemd.sh("systemctl start drtests-status.service")
    assert systemd.show("drtests-status.service", "Result")["Result"] == "success"
    host.put("/etc/drtests/status.env", b"DRTESTS_MAX_AGE=1s\n")
    systemd.sh("systemctl start drtests-status.service")
    result = systemd.show("drtests-status.service", "Result", "ExecMainStatus")
    assert result == {"Result": "exit-code", "ExecMainStatus": "1"}, result
    wait_for(lambda: "drtests-status.service" in systemd.sh("cat /var/lib/drtests/failed-units"),
             "OnFailure of the status unit", 60)  # fmt: skip
