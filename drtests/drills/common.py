"""Steps more than one phase takes."""

from collections.abc import Callable

from drtests.config import DrillConfig
from drtests.drill import Drill
from drtests.hosts.service import Service, change_state


def restart_node(phase: str, drill: Drill, service: Service, cfg: DrillConfig, say: Callable[[str], None],
                 was_active: bool) -> None:  # fmt: skip
    """Start the node again if it ran before; the outcome is a check of its own."""
    if not was_active:
        return
    say(f"starting {service.name}")
    try:
        drill.step(phase, f"start {service.name}", change_state(service, "active", cfg.service.timeout, say))
        drill.check(phase, "node active again", "active", "active")
    except Exception as exc:
        drill.check(phase, "node active again", "active", service.state(), message=str(exc))


def stackstate_version(cfg: DrillConfig, host) -> str | None:
    """The installed version from stackstate.version_command, None when not configured or failing."""
    if not cfg.stackstate.version_command:
        return None
    result = host.run(cfg.path(cfg.stackstate.version_command), 60)
    return result.stdout.strip().splitlines()[-1] if result.rc == 0 and result.stdout.strip() else None
