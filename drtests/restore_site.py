"""Where a drill restores: the target itself (in place) or a disposable host (isolated, and
existing-backup drills)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO

from drtests.config import DrillConfig, with_overrides
from drtests.drill import Drill
from drtests.errors import DrillError
from drtests.hosts.disposable import DisposableHost
from drtests.hosts.docker_upload import tar_frame
from drtests.hosts.host import TargetHost
from drtests.hosts.service import Service, node_service
from drtests.results import RestoreHost


@dataclass
class RestoreSite:
    host: TargetHost
    service: Service
    config: DrillConfig  # the drill's config with this host's home, units and probe
    node_was_active: bool
    disposable: DisposableHost | None = None


def in_place(cfg: DrillConfig, host: TargetHost, service: Service, drill: Drill) -> RestoreSite:
    return RestoreSite(host, service, cfg, drill.preflight.node_was_active)


def isolated_config(cfg: DrillConfig) -> DrillConfig:
    """The drill's config as it applies on the disposable host: its home, systemd units, probe."""
    iso = cfg.isolated
    return with_overrides(
        cfg,
        stackstate={"home": iso.home},
        service={"backend": "systemd", "unit": iso.unit, "stackgraph_unit": iso.stackgraph_unit},
        probe={"kind": "cli" if cfg.probe.kind == "api" else cfg.probe.kind},
        target={"sudo": False},
    )


def isolated(cfg: DrillConfig, drill: Drill, say: Callable[[str], None]) -> RestoreSite:
    """Start a disposable host from isolated.image; the caller removes it (see plugin)."""
    iso = cfg.isolated
    site_cfg = isolated_config(cfg)
    disposable = DisposableHost(iso.image, f"drtests-{drill.id.lower()}", [iso.stackgraph_unit, iso.unit],
                                labels={"drtests.drill": drill.id})  # fmt: skip
    try:
        with drill.timed_step("restore", "start restore host", f"docker run {iso.image}"):
            ready_s = disposable.start(iso.ready_timeout, say)
    except BaseException:
        disposable.remove()  # a host that never came up is no use to inspect: its error says why
        raise
    drill.restore.host = RestoreHost(disposable.url, iso.image, round(ready_s, 2))
    host = TargetHost(disposable.url)
    return RestoreSite(host, node_service(site_cfg, host), site_cfg, True, disposable)


CHUNK = 1 << 20


def copy_artifact(source: TargetHost, path: str, site: RestoreSite) -> tuple[str, str]:
    """Bring the backup file onto the disposable host, streamed (memory stays flat whatever its
    size) from a docker://, local:// or ssh:// target; returns its path there and how it came."""
    if site.disposable is None:
        return path, "in place"
    folder = site.config.isolated.copy_to
    dest = str(PurePosixPath(folder) / PurePosixPath(path).name)
    try:
        if source.url.startswith("docker://"):
            container = source.url.removeprefix("docker://").rsplit("@", 1)[-1]
            chunks, _ = site.disposable.client.api.get_archive(container, path, chunk_size=CHUNK)
            site.disposable.put_tar_stream(folder, chunks)
            how = "docker archive stream"
        elif source.url.startswith("local://") and site.disposable.put_file_sendfile(folder, path):
            how = "local sendfile"
        elif source.url.startswith("local://"):
            with open(path, "rb") as f:
                site.disposable.put_tar_stream(
                    folder, tar_stream(PurePosixPath(path).name, os.fstat(f.fileno()).st_size, f)
                )
            how = "local tar stream"
        elif source.url.startswith("ssh://"):
            copy_over_ssh(source, path, site, folder)
            how = "ssh cat stream"
        else:  # other transports: through testinfra, which reads the whole file
            site.disposable.put(dest, source.host.file(path).content)
            how = "read whole through testinfra"
    except DrillError:
        raise
    except Exception as exc:  # docker/testinfra raise their own types for unreadable files
        raise DrillError(f"cannot copy the backup file {path} from {source.url}: {exc}") from None
    return dest, how


def copy_over_ssh(source: TargetHost, path: str, site: RestoreSite, folder: str) -> None:
    """`ssh target cat file` piped, chunk by chunk, into the disposable host's tar upload."""
    size = source.file_size(path)
    with subprocess.Popen(source.ssh_cat_argv(path), stdout=subprocess.PIPE, stderr=subprocess.PIPE) as cat:
        try:
            site.disposable.put_tar_stream(folder, tar_stream(PurePosixPath(path).name, size, cat.stdout))
        except BaseException:
            cat.kill()
            raise
        finally:
            said = cat.stderr.read().decode(errors="replace").strip()
            rc = cat.wait()
    if rc != 0:
        raise DrillError(f"cannot copy the backup file {path} from {source.url}: ssh cat exited {rc}: {said[-300:]}")


def tar_stream(name: str, size: int, reader: BinaryIO) -> Iterator[bytes]:
    """A one-member tar archive of `size` bytes read from `reader`, produced chunk by chunk."""
    head, tail = tar_frame(name, size)
    yield head
    left = size
    while left and (chunk := reader.read(min(CHUNK, left))):
        left -= len(chunk)
        yield chunk
    if left:
        raise DrillError(f"the backup file {name} ended after {size - left} of {size} bytes while it was copied")
    yield tail
