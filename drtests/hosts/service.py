"""Service control with a wait for the wanted state: systemd units, or configured commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from drtests.config import DrillConfig
from drtests.errors import DrillError
from drtests.hosts.host import CommandResult, TargetHost, quote
from drtests.waiting import Every, wait_until

POLL_S = 0.5


class Service(Protocol):
    name: str
    seen: str  # the state the last state() read: after a change_state, the one its wait saw

    def state(self) -> str: ...
    def start(self, timeout: float) -> CommandResult: ...
    def stop(self, timeout: float) -> CommandResult: ...


class SystemdService:
    def __init__(self, host: TargetHost, unit: str) -> None:
        self.host, self.name, self.seen = host, unit, ""

    def state(self) -> str:
        self.seen = self.host.run(f"systemctl is-active {quote(self.name)}", 60).stdout.strip() or "unknown"
        return self.seen

    def start(self, timeout: float) -> CommandResult:
        return self.host.run(f"systemctl start {quote(self.name)}", timeout, sudo=True)

    def stop(self, timeout: float) -> CommandResult:
        return self.host.run(f"systemctl stop {quote(self.name)}", timeout, sudo=True)


class CommandService:
    """A service driven by start/stop/status commands; status exit 0 means active."""

    def __init__(self, host: TargetHost, name: str, start: str, stop: str, status: str) -> None:
        self.host, self.name, self.seen = host, name, ""
        self.commands = {"start": start, "stop": stop, "status": status}

    def state(self) -> str:
        self.seen = "active" if self.host.run(self.commands["status"], 60).rc == 0 else "inactive"
        return self.seen

    def start(self, timeout: float) -> CommandResult:
        return self.host.run(self.commands["start"], timeout, sudo=True)

    def stop(self, timeout: float) -> CommandResult:
        return self.host.run(self.commands["stop"], timeout, sudo=True)


def node_service(cfg: DrillConfig, host: TargetHost) -> Service:
    s = cfg.service
    if s.backend == "systemd":
        return SystemdService(host, s.unit)
    return CommandService(
        host, s.unit, cfg.command(s.start_command), cfg.command(s.stop_command), cfg.command(s.status_command)
    )


def stackgraph_service(cfg: DrillConfig, host: TargetHost) -> Service:
    s = cfg.service
    if s.backend == "systemd":
        return SystemdService(host, s.stackgraph_unit)
    status = cfg.command(s.stackgraph_status_command)
    return CommandService(host, s.stackgraph_unit, "false", "false", status)


def wait_for_state(service: Service, wanted: str, timeout: float, say: Callable[[str], None] | None = None) -> None:
    """Poll the service's state until it is `wanted`; WaitTimeout names what was awaited."""
    state = ""

    def reached() -> bool:
        nonlocal state
        state = service.state()
        if wanted == "active" and state == "failed":
            raise DrillError(
                f"{service.name} failed to start (state failed): see its log or journalctl -u {service.name}"
            )
        return state == wanted

    def note() -> None:
        if say:
            say(f"waiting for {service.name} to become {wanted} (state: {state})")

    wait_until(reached, timeout, lambda: f"{service.name} did not become {wanted} within {timeout:g}s (state: {state})",
               interval=POLL_S, on_wait=Every(10, note))  # fmt: skip


def change_state(
    service: Service, wanted: str, timeout: float, say: Callable[[str], None] | None = None
) -> CommandResult:
    """Start or stop the service and wait until it is `wanted` ("active" or "inactive").
    A command that failed and left the service in the wrong state fails at once, with its words."""
    result = service.start(timeout) if wanted == "active" else service.stop(timeout)
    if result.rc != 0 and service.state() != wanted:
        raise DrillError(f"{service.name} did not become {wanted}: {result.command!r} exited {result.rc}: "
                         f"{result.tail(3) or 'no output'}")  # fmt: skip
    wait_for_state(service, wanted, timeout, say)
    return result
