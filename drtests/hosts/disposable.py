"""Disposable hosts: a throwaway container from a configured image, with systemd as PID 1, for
isolated restores. Started with the flags that run systemd without --privileged (SYS_ADMIN,
seccomp unconfined, the host's cgroup namespace with /sys/fs/cgroup read-only, tmpfs /run),
labelled as drtests-owned, removed at the end of the drill unless kept.
"""

from __future__ import annotations

import io
import re
import tarfile
import time
from collections.abc import Callable
from pathlib import PurePosixPath

from drtests.errors import DrillError
from drtests.hosts import docker_upload
from drtests.waiting import wait_until

LABEL = "drtests"  # every container drtests starts carries it, so leftovers can be found
DRILL, TARGET, EXPIRES = "drtests.drill", "drtests.target", "drtests.expires"  # a restore host's labels


class DisposableHost:
    def __init__(self, image: str, name: str, units: list[str], labels: dict[str, str] | None = None,
                 ports: list[int] | None = None) -> None:  # fmt: skip
        import docker

        self.client = docker.from_env()
        self.image, self.name, self.units = image, name, units
        self.labels = {LABEL: "1", **(labels or {})}
        self.ports = ports or []
        self.container = None

    @property
    def url(self) -> str:
        """The testinfra host spec of this container."""
        return f"docker://{self.name}"

    def start(self, timeout: float, say: Callable[[str], None] = lambda _: None) -> float:
        """Start the container and wait until systemd and the units are up; returns the seconds it took."""
        from docker.errors import DockerException, ImageNotFound

        t0 = time.monotonic()
        try:
            self.container = self.client.containers.run(
                self.image, detach=True, name=self.name, hostname=re.sub(r"[^A-Za-z0-9-]", "-", self.name)[:63],
                labels=self.labels,
                cap_add=["SYS_ADMIN"], security_opt=["seccomp=unconfined"], cgroupns="host",
                volumes={"/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "ro"}},
                tmpfs={"/run": "", "/run/lock": ""},
                ports={f"{p}/tcp": ("127.0.0.1", None) for p in self.ports},
                # no route out: a restored copy of production must not run its syncs and integrations
                # against real systems (files come through the Docker API, commands through docker exec)
                network_mode=None if self.ports else "none",
            )  # fmt: skip
        except ImageNotFound:
            raise DrillError(f"image {self.image} not found: build it (make image) or set isolated.image") from None
        except DockerException as exc:
            raise DrillError(f"cannot start a disposable host from {self.image}: {exc}") from None
        say(f"disposable host {self.name} started from {self.image}; waiting for systemd")
        seen: dict[str, object] = {}

        def ready() -> bool:
            seen["state"] = self.exec("systemctl is-system-running").strip()
            units = seen["units"] = {u: self.exec_argv(["systemctl", "is-active", u]).strip() for u in self.units}
            failed = [u for u, s in units.items() if s == "failed"]
            if failed:
                journal = self.exec_argv(["journalctl", "-b", "--no-pager", "-n", "5", "-u", failed[0]])
                journal = journal.strip().splitlines()
                raise DrillError(f"disposable host {self.name}: {failed[0]} failed to start: "
                                 f"{journal[-1] if journal else 'see journalctl'}")  # fmt: skip
            return seen["state"] in ("running", "degraded") and all(s == "active" for s in units.values())

        wait_until(ready, timeout, lambda: f"disposable host {self.name} not ready within {timeout:g}s "
                   f"(system {seen['state'] or 'unknown'}, units {seen['units']})")  # fmt: skip
        return time.monotonic() - t0

    def exec(self, command: str) -> str:
        """A shell command in the container (only for commands with no value from outside in them)."""
        return self.exec_argv(["sh", "-c", command])

    def exec_argv(self, argv: list[str]) -> str:
        """A command in the container as an argument list: a unit name or path is one argument,
        never shell syntax."""
        return self.container.exec_run(argv).output.decode(errors="replace")

    def published_port(self, port: int) -> int:
        self.container.reload()
        return int(self.container.ports[f"{port}/tcp"][0]["HostPort"])

    def put(self, path: str, content: bytes, mode: int = 0o644, owner: str = "root") -> None:
        """Write a file into the container (parents must exist)."""
        target = PurePosixPath(path)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            info = tarfile.TarInfo(target.name)
            info.size, info.mode, info.mtime = len(content), mode, int(time.time())
            tar.addfile(info, io.BytesIO(content))
        if not self.container.put_archive(str(target.parent), buffer.getvalue()):
            raise DrillError(f"cannot copy {path} into {self.name}")
        if owner != "root":
            self.exec_argv(["chown", "--", f"{owner}:", path])

    def put_tar_stream(self, folder: str, chunks) -> None:
        """Unpack a tar stream (an iterable of bytes) into `folder`, without holding it in memory."""
        if not self.client.api.put_archive(self.container.id, folder, chunks):
            raise DrillError(f"cannot copy into {self.name}:{folder}")

    def put_file_sendfile(self, folder: str, path: str) -> bool:
        """Copy a local file into `folder` with the kernel moving its bytes (docker_upload).
        Returns False when the engine is not reached over a unix socket (the caller streams)."""
        socket_path = getattr(self.client.api.get_adapter(self.client.api.base_url), "socket_path", None)
        if not socket_path:
            return False
        api = f"/v{self.client.api.api_version}/containers/{self.container.id}/archive"
        docker_upload.send_file(socket_path, api, folder, path, f"{self.name}:{folder}")
        return True

    def remove(self) -> None:
        if self.container is not None:
            self.container.remove(force=True, v=True)
            self.container = None


def restore_hosts(target: str) -> list[tuple[str, dict[str, str]]]:
    """(name, labels) of every restore host of `target` (drtests.target label) on the engine, from
    one list request (the SDK's containers.list inspects each container after listing, and fails
    on one another drill removed in between)."""
    import docker

    found = docker.from_env().api.containers(all=True, filters={"label": [LABEL, f"{TARGET}={target}"]})
    return [(c["Names"][0].lstrip("/"), dict(c.get("Labels") or {})) for c in found]


def remove_host(name: str) -> None:
    import docker
    from docker.errors import NotFound

    try:
        docker.from_env().containers.get(name).remove(force=True, v=True)
    except NotFound:
        pass


def image_problem(image: str) -> str | None:
    """Why a disposable host cannot start from `image`, or None when it can."""
    import docker
    from docker.errors import DockerException, ImageNotFound

    try:
        docker.from_env().images.get(image)
    except ImageNotFound:
        return f"image {image} not found on the Docker engine: build it (make image) or set isolated.image"
    except DockerException as exc:
        return f"cannot reach the Docker engine for isolated restores: {exc}"  # preflight fails on it
    return None
