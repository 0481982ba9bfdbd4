"""The kinds of drill, one module each behind one interface (drtests.modes.base.DrillMode),
chosen from drill.mode as testinfra chooses a backend by URL scheme."""

from __future__ import annotations

from drtests.config import DrillConfig
from drtests.modes.base import DrillMode, RestoreSite
from drtests.modes.existing import Existing
from drtests.modes.in_place import InPlace
from drtests.modes.isolated import Isolated
from drtests.words import Mode

MODES: dict[Mode, DrillMode] = {mode.mode: mode for mode in (InPlace(), Isolated(), Existing())}

__all__ = ["MODES", "DrillMode", "RestoreSite", "of"]


def of(cfg: DrillConfig) -> DrillMode:
    """The drill mode of `cfg` (drill.mode)."""
    return MODES[Mode(cfg.drill.mode)]
