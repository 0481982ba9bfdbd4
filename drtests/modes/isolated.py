"""Isolated: back up the target, restore the graph in a disposable host started from
[isolated] image (systemd as PID 1), compare with the target's baseline, remove the host.
Production pays only the brief stop for the export."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import BinaryIO
from urllib.parse import urlparse

from drtests.config import DrillConfig, with_overrides
from drtests.errors import DrillError
from drtests.hosts import disposable as containers
from drtests.hosts.disposable import DisposableHost
from drtests.hosts.docker_upload import tar_frame
from drtests.hosts.host import TargetHost
from drtests.hosts.service import Service, node_service
from drtests.modes.base import DrillMode, RestoreSite, Say
from drtests.options import DrillOptions
from drtests.record.clock import utc_at, utc_now
from drtests.record.drill import Drill
from drtests.record.results import RestoreHost
from drtests.steps import COPY_BACKUP, COPY_INTACT, VERSIONS_MATCH, Planned, check, expect, step
from drtests.words import Mode, Phase

PREFLIGHT, RESTORE = Phase.PREFLIGHT, Phase.RESTORE
IMAGE_AVAILABLE = check("restore host image available")
START_HOST = step("start restore host")


class Isolated(DrillMode):
    mode = Mode.ISOLATED
    backup_name = "drtests-<drill-id>.graph"  # how the plan names the file copied into the restore host
    graph_restore = "the restore host's start, the copy of the backup, the node's stop and the import"

    def preflight_plan(self, cfg: DrillConfig) -> list[Planned]:
        return [IMAGE_AVAILABLE.planned(PREFLIGHT, f"image {cfg.isolated.image} on the Docker engine")]

    def check_preflight(self, cfg: DrillConfig, drill: Drill) -> None:
        problem = containers.image_problem(cfg.isolated.image)
        expect(drill, PREFLIGHT, IMAGE_AVAILABLE(), None, problem, message=problem or "")

    def site_config(self, cfg: DrillConfig) -> DrillConfig:
        return isolated_config(cfg)

    def leftover_hosts(self, cfg: DrillConfig, stale_drill: str) -> list[str]:
        """This target's restore hosts past their expiry (kept too long), or of `stale_drill` (the
        drill whose lock is left and whose process is gone: killed in the middle of its restore)."""
        now, found = utc_now(), []
        for name, labels in containers.restore_hosts(cfg.target_name):
            expired = labels.get(containers.EXPIRES, "") < now
            if expired or (stale_drill and labels.get(containers.DRILL) == stale_drill):
                found.append(name)
        return sorted(found)

    def remove_host(self, name: str) -> None:
        containers.remove_host(name)

    def open_site(self, cfg: DrillConfig, drill: Drill, target: TargetHost, service: Service, say: Say) -> RestoreSite:
        """Start a disposable host from isolated.image; the caller removes it (dr_restore_site)."""
        iso = cfg.isolated
        site_cfg = isolated_config(cfg)
        expires = utc_at(time.time() + iso.keep_hours * 3600)
        labels = {containers.DRILL: drill.id, containers.TARGET: cfg.target_name, containers.EXPIRES: expires}
        host = DisposableHost(iso.image, f"drtests-{drill.id.lower()}", [iso.stackgraph_unit, iso.unit], labels)
        try:
            with drill.timed_step(RESTORE, START_HOST(), f"docker run {iso.image}"):
                ready_s = host.start(iso.ready_timeout, say)
        except BaseException:
            host.remove()  # a host that never came up is no use to inspect: its error says why
            raise
        drill.restore.host = RestoreHost(host.url, iso.image, round(ready_s, 2))
        restore_host = TargetHost(host.url)
        return RestoreSite(restore_host, node_service(site_cfg, restore_host), site_cfg, True, host)

    def restore_plan(self, cfg: DrillConfig, options: DrillOptions, file: str) -> tuple[list[Planned], str]:
        iso, site_cfg = cfg.isolated, isolated_config(cfg)
        kept = f"kept ({options.flag('keep')})" if options.keep else "removed at the end"
        planned = [
            START_HOST.planned(RESTORE, f"a disposable container from {iso.image}; wait until "
                 f"systemd, {iso.stackgraph_unit} and {iso.unit} are up (timeout {iso.ready_timeout:g}s); {kept}"),
            VERSIONS_MATCH.planned(RESTORE) if site_cfg.stackstate.version_command else None,
            COPY_BACKUP.planned(RESTORE, f"into {iso.copy_to}"),
            COPY_INTACT.planned(RESTORE),
        ]  # fmt: skip
        return [p for p in planned if p], f"{iso.copy_to.rstrip('/')}/{self.backup_name}"


def isolated_config(cfg: DrillConfig) -> DrillConfig:
    """The drill's config as it applies on the disposable host: its home, systemd units, probe."""
    iso = cfg.isolated
    return with_overrides(
        cfg,
        stackstate={"home": iso.home},
        service={"backend": "systemd", "unit": iso.unit, "stackgraph_unit": iso.stackgraph_unit},
        # the host has no network: an API probe asks from inside it (api_get)
        probe={
            "api_from": "host",
            "api_url": iso.api_url or f"http://127.0.0.1:{urlparse(cfg.probe.api_url).port or 80}",
        },
        target={"sudo": False},
    )


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
