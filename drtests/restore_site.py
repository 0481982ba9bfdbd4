"""Where a drill restores: the target itself (in place) or a disposable host (isolated)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

from drtests.config import DrillConfig, with_overrides
from drtests.drill import Drill
from drtests.errors import DrillError
from drtests.target.disposable import DisposableHost
from drtests.target.host import TargetHost
from drtests.target.service import Service, node_service


@dataclass
class RestoreSite:
    host: TargetHost
    service: Service
    config: DrillConfig  # the drill's config with this host's home, units and probe
    node_was_active: bool
    disposable: DisposableHost | None = None


def in_place(cfg: DrillConfig, host: TargetHost, service: Service, drill: Drill) -> RestoreSite:
    return RestoreSite(host, service, cfg, drill.facts.get("node_state_at_start") == "active")


def isolated(cfg: DrillConfig, drill: Drill, say: Callable[[str], None]) -> RestoreSite:
    """Start a disposable host from isolated.image; the caller removes it (see plugin)."""
    iso = cfg.isolated
    site_cfg = with_overrides(
        cfg,
        stackstate={"home": iso.home},
        service={"backend": "systemd", "unit": iso.unit, "stackgraph_unit": iso.stackgraph_unit},
        probe={"kind": "cli" if cfg.probe.kind == "api" else cfg.probe.kind},
        target={"sudo": False},
    )
    disposable = DisposableHost(iso.image, f"drtests-{drill.id.lower()}", [iso.stackgraph_unit, iso.unit],
                                labels={"drtests.drill": drill.id})  # fmt: skip
    try:
        ready_s = disposable.start(iso.ready_timeout, say)
    except BaseException:
        disposable.remove()  # a host that never came up is no use to inspect: its error says why
        raise
    drill.facts["restore_host"] = {"url": disposable.url, "image": iso.image, "ready_s": round(ready_s, 2)}
    host = TargetHost(disposable.url)
    return RestoreSite(host, node_service(site_cfg, host), site_cfg, True, disposable)


def copy_artifact(source: TargetHost, path: str, site: RestoreSite) -> str:
    """Bring the backup file onto the disposable host; returns its path there."""
    if site.disposable is None:
        return path
    try:
        content = source.host.file(path).content
    except Exception as exc:  # testinfra raises plain exceptions for unreadable files
        raise DrillError(f"cannot read the backup file {path} on {source.url}: {exc}") from None
    dest = str(PurePosixPath(site.config.isolated.copy_to) / PurePosixPath(path).name)
    site.disposable.put(dest, content)
    return dest
