"""Where a drill restores: the target itself (in place) or a disposable host (isolated)."""

from __future__ import annotations

import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

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


CHUNK = 1 << 20


def copy_artifact(source: TargetHost, path: str, site: RestoreSite) -> str:
    """Bring the backup file onto the disposable host, streamed (memory stays flat whatever its
    size) from a docker:// or local:// target; returns its path there."""
    if site.disposable is None:
        return path
    folder = site.config.isolated.copy_to
    dest = str(PurePosixPath(folder) / PurePosixPath(path).name)
    try:
        if source.url.startswith("docker://"):
            container = source.url.removeprefix("docker://").rsplit("@", 1)[-1]
            chunks, _ = site.disposable.client.api.get_archive(container, path, chunk_size=CHUNK)
        elif source.url.startswith("local://"):
            chunks = tar_stream(Path(path))
        else:  # ssh and others: through testinfra, which reads the whole file
            site.disposable.put(dest, source.host.file(path).content)
            return dest
        site.disposable.put_tar_stream(folder, chunks)
    except DrillError:
        raise
    except Exception as exc:  # docker/testinfra raise their own types for unreadable files
        raise DrillError(f"cannot copy the backup file {path} from {source.url}: {exc}") from None
    return dest


def tar_stream(path: Path) -> Iterator[bytes]:
    """A one-member tar archive of `path`, produced chunk by chunk."""
    info = tarfile.TarInfo(path.name)
    stat = path.stat()
    info.size, info.mode, info.mtime = stat.st_size, 0o644, int(stat.st_mtime)
    yield info.tobuf(format=tarfile.PAX_FORMAT)
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk
    padding = (-stat.st_size) % tarfile.BLOCKSIZE
    yield b"\0" * padding + b"\0" * (2 * tarfile.BLOCKSIZE)
