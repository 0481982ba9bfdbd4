"""What a drill would do, step by step, from its config alone (`drtests plan`): touches nothing.

The steps come from the phase modules themselves (each declares `plan` next to the code that
takes those steps), so the plan is the drill's own list, not a description of it.
"""

from __future__ import annotations

from drtests.config import DrillConfig
from drtests.drills import (
    phase_1_preflight,
    phase_2_baseline,
    phase_3_backup,
    phase_4_restore,
    phase_5_verify,
    phase_6_report,
)
from drtests.options import DrillOptions
from drtests.steps import Planned

PHASE_MODULES = (phase_1_preflight, phase_2_baseline, phase_3_backup, phase_4_restore, phase_5_verify, phase_6_report)


def plan(cfg: DrillConfig, options: DrillOptions) -> list[Planned]:
    """Every step and check of the drill, in the order the drill takes them."""
    return [planned for module in PHASE_MODULES for planned in module.plan(cfg, options)]


def render(cfg: DrillConfig, options: DrillOptions) -> list[str]:
    """The plan as `drtests plan` prints it: phase headings, numbered steps, checks under them."""
    lines = [f"Drill {cfg.drill.name!r} ({cfg.drill.mode}) of {cfg.target_name} on {cfg.target.url}, "
             f"config {cfg.source}"]  # fmt: skip
    current, number = "", 0
    for planned in plan(cfg, options):
        if planned.phase != current:
            lines += ["", planned.phase]
            current = planned.phase
        detail = f": {planned.detail}" if planned.detail else ""
        if planned.kind == "step":
            number += 1
            lines.append(f"  {number:2d}. {planned.name}{detail}")
        else:
            lines.append(f"      {planned.kind} {planned.name}{detail}")
    return lines
