"""In place: the drill restores the graph onto the target itself (destructive: refused unless the
target is disposable or --allow-destructive is given)."""

from __future__ import annotations

from drtests.config import DrillConfig
from drtests.hosts.host import TargetHost
from drtests.hosts.service import Service
from drtests.modes.base import DrillMode, RestoreSite, Say
from drtests.record.drill import Drill
from drtests.words import Mode


class InPlace(DrillMode):
    mode = Mode.IN_PLACE

    def destructive_steps(self, cfg: DrillConfig) -> list[str]:
        return [f"overwrite the graph on {cfg.target.url} with the backup"]

    def open_site(self, cfg: DrillConfig, drill: Drill, target: TargetHost, service: Service, say: Say) -> RestoreSite:
        return RestoreSite(target, service, cfg, drill.preflight.node_was_active)
