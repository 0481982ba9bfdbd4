"""A drill target reached through testinfra (local://, ssh://, docker://...).

Every command runs under coreutils `timeout` on the target itself, so a hung command ends
there too, whatever the transport.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from shlex import quote
from urllib.parse import urlparse

from drtests.errors import DrillError, Unreachable

TIMEOUT_EXIT = 124  # coreutils timeout: the command ran out of time
# Content that reaches a file on the target never travels as one command-line argument (Linux
# refuses one over 128 KiB: "Argument list too long", e.g. a restore ledger of 2,000 indices): it
# goes on the command's stdin, or, where the transport has none, in parts of at most this many
# characters (4 bytes each at most, quoted: well under the limit).
PART_CHARS = 16 * 1024


@dataclass(frozen=True)
class CommandResult:
    command: str
    rc: int
    stdout: str
    stderr: str
    duration_s: float
    timeout_s: float
    ran: str = ""  # exactly what the target was given: with its timeout, pid file and sudo wrapping

    @property
    def timed_out(self) -> bool:
        return self.rc in (TIMEOUT_EXIT, 137) and self.duration_s >= self.timeout_s

    def tail(self, lines: int = 20) -> str:
        text = (self.stdout + ("\n" if self.stdout and self.stderr else "") + self.stderr).strip()
        return "\n".join(text.splitlines()[-lines:])

    def summary(self) -> dict:
        data = asdict(self)
        data.pop("stdout"), data.pop("stderr")
        return {**data, "output_tail": self.tail()}


@dataclass(frozen=True)
class FileFacts:
    path: str
    size: int
    sha256: str
    owner: str
    group: str
    mode: str
    mtime: str


class TargetHost:
    """One host a drill works on. `url` is a testinfra host spec."""

    def __init__(self, url: str, sudo: bool = False, ssh_config: str = "", ssh_identity_file: str = "",
                 hidden_env: tuple[str, ...] = ()) -> None:  # fmt: skip
        self.url = url
        # a local:// command inherits this process's environment: the secrets are taken out of it
        # (ssh:// and docker:// pass none of it)
        self.hidden_env = hidden_env if url.startswith("local://") else ()
        self.sudo = sudo
        self.ssh_config, self.ssh_identity_file = ssh_config, ssh_identity_file
        import testinfra  # late: pytest registers testinfra's own plugin first, then rewrites it

        ssh = {"ssh_config": ssh_config, "ssh_identity_file": ssh_identity_file} if url.startswith("ssh") else {}
        self.host = testinfra.get_host(url, **{k: v for k, v in ssh.items() if v})

    def run(
        self, command: str, timeout: float, sudo: bool = False, pidfile: str = "", as_user: str = ""
    ) -> CommandResult:
        """Run a shell command on the target, ended there after `timeout` seconds. With a pidfile,
        the pid of the `timeout` process is written there, so the command can be cancelled. With
        `sudo` (and target.sudo), through `sudo -n`: as root, or as `as_user` (the install's owner,
        so what it writes belongs to the install, not to root)."""
        wrapped = f"timeout -k 5 {timeout:g} sh -c {quote(command)}"
        if self.hidden_env:
            wrapped = f"env {' '.join(f'-u {quote(name)}' for name in self.hidden_env)} {wrapped}"
        if pidfile:  # its pid and start time: --recover signals only that very process
            start = "$(cut -d' ' -f22 /proc/$$/stat 2>/dev/null)"
            wrapped = f"sh -c {quote(f'echo $$ {start} > {quote(pidfile)}; exec {wrapped}')}"
        if sudo and self.sudo:
            wrapped = f"sudo -n -u {quote(as_user)} {wrapped}" if as_user else f"sudo -n {wrapped}"
        elif sudo and as_user and self.connected_as == "root" and as_user != "root":
            # connected as root (docker://, ssh://root@): the export and import still run as the
            # install's owner, so what they write belongs to the install, as the procedure says
            wrapped = f"runuser -u {quote(as_user)} -- {wrapped}"
        started = time.monotonic()
        try:
            result = self.host.run(wrapped)
        except RuntimeError as exc:  # testinfra: the transport itself failed (ssh exit 255, ...)
            failed = exc.args[0] if exc.args else exc
            said = getattr(failed, "stderr", "") or str(failed)
            raise Unreachable(f"cannot run commands on {self.url}: {said.strip()}") from None
        elapsed = time.monotonic() - started
        return CommandResult(command, result.rc, result.stdout, result.stderr, elapsed, timeout, wrapped)

    def start(
        self, command: str, timeout: float, sudo: bool = False, pidfile: str = "", as_user: str = ""
    ) -> RunningCommand:
        """Run a long command in the background of this process; see RunningCommand."""
        return RunningCommand(self, command, timeout, sudo, pidfile or pidfile_for("/tmp", ""), as_user)

    def running_commands(self, folder: str) -> list[tuple[str, int, str, str]]:
        """(pid file, pid, start time it records, start time of that pid now: "" when no such
        process) of every drtests command pid file in `folder`: what a drill killed outright
        (kill -9) can leave running, an export writing on or an import."""
        now = "cut -d' ' -f22 /proc/$p/stat 2>/dev/null"  # after the name in (): none of ours has a space
        each = f'read -r p s < "$f"; echo "$f $p ${{s:--}} $({now})"'
        listing = self.run(f'for f in {quote(folder)}/drtests-*.pid; do [ -f "$f" ] && {{ {each}; }}; done; true', 30)
        found = []
        for line in listing.stdout.splitlines():
            path, pid, recorded, current = (line.split(" ") + ["", "", ""])[:4]
            if pid.isdigit():
                found.append((path, int(pid), "" if recorded == "-" else recorded, current))
        return found

    def ssh_argv(self, remote: str) -> list[str]:
        """ssh:// targets: the local command that runs the shell command `remote` there, its stdin
        and stdout this process's own (streams, instead of output read whole through testinfra)."""
        url = urlparse(self.url)
        argv = ["ssh", "-o", "BatchMode=yes"]
        argv += ["-F", self.ssh_config] if self.ssh_config else []
        argv += ["-i", self.ssh_identity_file] if self.ssh_identity_file else []
        argv += ["-p", str(url.port)] if url.port else []
        destination = f"{url.username}@{url.hostname}" if url.username else str(url.hostname)
        return [*argv, "--", destination, remote]  # after --, a host named -oProxyCommand=... is no option

    def ssh_cat_argv(self, path: str) -> list[str]:
        """ssh:// targets: the local command that writes the file's bytes to its stdout."""
        return self.ssh_argv(f"{'sudo -n ' if self.sudo else ''}cat -- {quote(path)}")

    def stdin_argv(self, command: str) -> list[str] | None:
        """The local command that runs the shell command `command` on the target with this
        process's stdin as its own; None for a transport without one here (paramiko, kubectl,
        ansible: see feed_in_parts)."""
        url = urlparse(self.url)
        if url.scheme == "local":
            return ["sh", "-c", command]
        if url.scheme == "ssh":
            return self.ssh_argv(command)
        if url.scheme in ("docker", "podman"):  # as testinfra reaches them: docker://[user@]name
            user, _, name = url.netloc.rpartition("@")
            return [url.scheme, "exec", "-i", *(["-u", user] if user else []), "--", name, "sh", "-c", command]
        return None

    def feed(self, command: str, content: str, timeout: float = 60) -> bool:
        """Run the shell command `command` on the target with `content` on its stdin; True when it
        exits 0. However large `content` is, no command line carries it (PART_CHARS)."""
        wrapped = f"timeout -k 5 {timeout:g} sh -c {quote(command)}"
        argv = self.stdin_argv(wrapped)
        if argv is None:
            return self.feed_in_parts(command, content, timeout)
        env = {k: v for k, v in os.environ.items() if k not in self.hidden_env}
        try:
            done = subprocess.run(argv, input=content.encode(), capture_output=True, timeout=timeout + 10, env=env)
        except (OSError, subprocess.TimeoutExpired):
            return False
        return done.returncode == 0

    def feed_in_parts(self, command: str, content: str, timeout: float) -> bool:
        """A transport without stdin: `content` written to a temporary file on the target in
        parts of PART_CHARS, then given to `command` as its stdin, the file removed."""
        tmp = f"/tmp/drtests-feed-{uuid.uuid4().hex}"
        try:
            for start in range(0, max(len(content), 1), PART_CHARS):
                part, into = content[start : start + PART_CHARS], ">>" if start else ">"
                if self.run(f"umask 077; printf %s {quote(part)} {into} {quote(tmp)}", timeout).rc != 0:
                    return False
            return self.run(f"sh -c {quote(command)} < {quote(tmp)}", timeout).rc == 0
        finally:
            self.run(f"rm -f {quote(tmp)}", 30)

    def name(self) -> str:
        return self.run("hostname", 30).stdout.strip() or self.url

    @functools.cached_property
    def connected_as(self) -> str:
        """The user commands run as on the target (without sudo); asked once, through run() so an
        unreachable target is an Unreachable in words (run() asks it only for sudo with as_user)."""
        return self.run("id -un", 30).stdout.strip()

    def user(self) -> str:
        return self.connected_as

    def exists(self, path: str) -> bool:
        return self.run(f"test -e {quote(path)}", 30).rc == 0

    def is_dir(self, path: str) -> bool:
        return self.run(f"test -d {quote(path)}", 30).rc == 0

    def writable_by(self, path: str, user: str) -> bool:
        """Can `user` create files in `path`? Asked as that user, as the export will run."""
        if user == self.user():
            return self.run(f"test -w {quote(path)}", 30).rc == 0
        as_user = f"runuser -u {quote(user)} -- test -w {quote(path)}"
        return self.run(as_user, 30, sudo=True).rc == 0

    def free_mb(self, path: str) -> int:
        out = self.run(f"df -Pk {quote(path)} | tail -n 1", 30).stdout.split()
        return int(out[3]) // 1024 if len(out) > 3 and out[3].isdigit() else 0

    def newest_file_mb(self, folder: str, pattern: str) -> int:
        """Size in MB (rounded up) of the newest file matching `pattern` in `folder`; 0 when none."""
        found = self.run(f"ls -t {quote(folder)}/{pattern} 2>/dev/null | head -n 1 | xargs -r stat -c %s", 60)
        size = found.stdout.strip()
        return -(-int(size) // (1024 * 1024)) if size.isdigit() else 0

    @property
    def is_local(self) -> bool:
        return self.url.startswith("local://") and not self.sudo

    def file_size(self, path: str) -> int:
        if self.is_local:  # followed many times a second: no process per look
            try:
                return os.stat(path).st_size
            except OSError:
                return 0
        result = self.run(f"stat -c %s {quote(path)}", 30)
        return int(result.stdout.strip()) if result.rc == 0 else 0

    def file_facts(self, path: str) -> FileFacts:
        stat = self.run(f"stat -c '%s|%U|%G|%a|%Y' {quote(path)}", 60)
        if stat.rc != 0:
            raise DrillError(f"cannot read {path} on {self.url}: {stat.stderr.strip() or f'exit {stat.rc}'}")
        size, owner, group, mode, mtime = stat.stdout.strip().split("|")
        summed = self.run(f"sha256sum {quote(path)}", 3600)
        if summed.rc != 0 or not summed.stdout.strip():
            raise DrillError(f"cannot read {path} on {self.url}: {summed.tail(2) or f'exit {summed.rc}'}")
        sha = summed.stdout.split()[0]
        when = datetime.fromtimestamp(int(mtime), UTC).isoformat()
        return FileFacts(path, int(size), sha, owner, group, mode.zfill(4), when)

    def read_from(self, path: str, offset: int) -> bytes:
        """The file's bytes from `offset` on (a log window): bytes, so the caller's offset counts
        what the file holds, whatever its encoding or where a read cut a character."""
        if self.is_local:
            try:
                with open(path, "rb") as f:
                    f.seek(offset)
                    return f.read()
            except OSError:
                return b""
        try:
            result = self.host.run(f"timeout 60 tail -c +{offset + 1} {quote(path)}")
        except RuntimeError as exc:
            raise Unreachable(f"cannot read {path} on {self.url}: {exc}") from None
        return result.stdout_bytes if result.rc == 0 else b""

    def write_new(self, path: str, content: str) -> bool:
        """Create `path` with `content` only if it does not exist yet (atomic: noclobber)."""
        return self.feed(f"set -C; cat > {quote(path)}", content)

    def write(self, path: str, content: str) -> bool:
        """Create or replace `path` with `content`."""
        return self.feed(f"cat > {quote(path)}", content)

    def replace(self, path: str, content: str) -> bool:
        """Replace `path` with `content` in one step (a temporary file renamed over it): a reader
        sees the old content or the new, never a half-written file."""
        tmp = f"{path}.new-{os.getpid()}"
        return self.feed(f"cat > {quote(tmp)} && mv -f {quote(tmp)} {quote(path)}", content)

    def read(self, path: str) -> str | None:
        result = self.run(f"cat {quote(path)}", 30)
        return result.stdout if result.rc == 0 else None

    def remove(self, path: str) -> None:
        self.run(f"rm -f {quote(path)}", 30)


PIDFILE = re.compile(r"/drtests-(?:(?P<owner>.+)-)?(?P<uuid>[0-9a-f]{32})\.pid$")


def pidfile_for(folder: str, owner: str) -> str:
    """Where a command's pid is kept on the target: named by the drill that runs it."""
    return f"{folder.rstrip('/')}/drtests-{owner + '-' if owner else ''}{uuid.uuid4().hex}.pid"


def pidfile_owner(path: str) -> str:
    match = PIDFILE.search(path)
    return (match["owner"] or "") if match else ""


class RunningCommand:
    """A command running on the target that can be waited for in slices (to show progress) and
    cancelled (Ctrl-C, SIGTERM), which ends it on the target too, not only here."""

    def __init__(self, host: TargetHost, command: str, timeout: float, sudo: bool, pidfile: str,
                 as_user: str = "") -> None:  # fmt: skip
        self.host, self.sudo = host, sudo
        self.pidfile = pidfile
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._future = self._pool.submit(host.run, command, timeout, sudo, self.pidfile, as_user)

    def wait(self, seconds: float) -> CommandResult | None:
        """The result if the command ended within `seconds`, else None."""
        try:
            result = self._future.result(timeout=seconds)
        except FutureTimeout:
            return None
        self._done()
        return result

    def cancel(self) -> None:
        self.host.run(f"kill -TERM $(cat {quote(self.pidfile)}) 2>/dev/null", 30, sudo=self.sudo)
        try:
            self._future.result(timeout=30)
        finally:
            self._done()

    def _done(self) -> None:
        self._pool.shutdown(wait=False)
        self.host.run(f"rm -f {quote(self.pidfile)}", 30, sudo=self.sudo)
