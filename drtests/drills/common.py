"""Steps more than one phase takes."""

from collections.abc import Callable

from drtests.config import DrillConfig
from drtests.drill import Drill
from drtests.target.service import Service, change_state


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
