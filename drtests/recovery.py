"""What an interrupted drill (kill -9, a lost machine) can leave on a target, and undoing it.

A preflight finds: a drill lock whose holder is gone, the node stopped by that drill, renamed
restore indices. It says what it found and recovers only when told to (--recover).
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path

from drtests import drill_state
from drtests.config import DrillConfig
from drtests.declared import step
from drtests.errors import DrillError
from drtests.es import client
from drtests.hosts.host import TargetHost, pidfile_owner, quote
from drtests.hosts.service import change_state
from drtests.waiting import wait_until

HOLDER = re.compile(r"drill=(?P<drill>\S+) operator=(?P<user>[^@\s]+)@(?P<host>\S+) pid=(?P<pid>\d+)")
IDENTITY = re.compile(r"boot=(?P<boot>\S+) pidns=(?P<pidns>\S+) start=(?P<start>\d+)")

PHASE = "preflight"  # recovery happens there
RECOVER_COMMAND = step("recover: end the export/import of drill {drill} (pid {pid})")
RECOVER_LOCK = step("recover: take over drill lock {lock}")
RECOVER_START = step("recover: start {unit}")
RECOVER_INDICES = step("recover: delete restore indices {indices}")
RECOVER_HOST = step("recover: remove restore host {host}")


def holder_drill(holder: str) -> str:
    """The drill id a lock names ("" when the lock is not one drtests wrote)."""
    match = HOLDER.search(holder)
    return match["drill"] if match else ""


def lock_named(holder: str, named: str) -> bool:
    """Whether `named` (--recover-drill) names this lock: a drill's lock by its drill id; a lock
    drtests did not write only by its whole text (never by default: the empty name)."""
    holder = holder.strip()
    if not holder:
        return False
    drill = holder_drill(holder)
    return named == drill if drill else named == holder


def process_start(pid: int) -> str:
    """When process `pid` started (clock ticks since boot, /proc/<pid>/stat), "" when there is none."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]  # field 22; the name before it may hold spaces


def runner_identity(pid: int) -> str:
    """What identifies process `pid` of this machine beyond its number, as a lock line records it:
    the kernel's boot, the pid namespace (containers sharing a hostname have their own) and the
    process's start time (a pid is reused, a start time is not)."""
    boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    pidns = os.readlink("/proc/self/ns/pid").removeprefix("pid:[").removesuffix("]")
    return f"boot={boot} pidns={pidns} start={process_start(pid)}"


def holder_is_gone(holder: str) -> bool:
    """True only when it is proven: the lock's holder ran on this machine, in this boot and this
    pid namespace, and no process with its pid and start time exists. A lock without that
    identity (another runner, a container with its own pid namespace, an older drtests) is not
    proven gone: --recover leaves it unless it is named."""
    match, identity = HOLDER.search(holder), IDENTITY.search(holder)
    if not match or not identity or match["host"] != socket.gethostname():
        return False
    here = IDENTITY.search(runner_identity(os.getpid()))
    if (identity["boot"], identity["pidns"]) != (here["boot"], here["pidns"]):
        return False
    return process_start(int(match["pid"])) != identity["start"]


@dataclass
class Leftovers:
    lock: str = ""
    lock_holder: str = ""  # the lock file's content, when a lock exists
    holder_gone: bool = False
    node_inactive: bool = False  # with a lock present: the drill stopped the node and died
    restore_indices: list[str] = field(default_factory=list)  # named in the ledger, and still there
    elsewhere: dict[str, list[str]] = field(default_factory=dict)  # ledger names per other cluster's uuid
    unproven: list[str] = field(default_factory=list)  # ledger names not proven a drill's copy here: never deleted
    hosts: list[str] = field(default_factory=list)  # restore hosts past their expiry, or of a drill that died
    ledger: str = ""  # the restore ledger's path, when one exists
    commands: list[tuple[str, int, str]] = field(default_factory=list)  # (pid file, pid, drill): still running
    stale_pidfiles: list[str] = field(default_factory=list)  # their command ended (or its pid is another's now)
    unprovable: list[tuple[str, int]] = field(default_factory=list)  # a live pid the pid file cannot prove ours

    def __bool__(self) -> bool:
        return bool(self.lock_holder or self.restore_indices or self.elsewhere or self.unproven or self.commands
                    or self.hosts or self.unprovable)  # fmt: skip

    def describe(self) -> str:
        found = []
        if self.lock_holder:
            state = "its process is gone" if self.holder_gone else "holder not known to be gone"
            found.append(f"drill lock {self.lock} ({self.lock_holder.strip()}; {state})")
        for _, pid, drill in self.commands:
            found.append(f"an export or import of drill {drill or '?'} still runs on the target (pid {pid})")
        if self.node_inactive:
            found.append("the node is inactive (stopped by that drill?)")
        if self.restore_indices:
            names = ", ".join(self.restore_indices[:3]) + (" ..." if len(self.restore_indices) > 3 else "")
            found.append(f"{len(self.restore_indices)} restore indices of an earlier drill ({names})")
        for pidfile, pid in self.unprovable:
            found.append(f"process {pid} named by {pidfile}, which records no start time, so drtests cannot "
                         "prove it is the export or import it started: it never signals it (end it by hand if it "
                         "is, then remove the file)")  # fmt: skip
        if self.hosts:
            found.append(f"restore host(s) {', '.join(self.hosts)} (a restored copy of production, past its "
                         "expiry or left by a drill that died)")  # fmt: skip
        if self.unproven:
            found.append(f"{len(self.unproven)} name(s) in the restore ledger it does not prove a drill restored here "
                         f"({', '.join(self.unproven[:3])}{' ...' if len(self.unproven) > 3 else ''})")  # fmt: skip
        for cluster, names in self.elsewhere.items():
            listed = ", ".join(names[:3]) + (" ..." if len(names) > 3 else "")
            found.append(f"{len(names)} restore indices of an earlier drill in another cluster than this drill "
                         f"restores into (cluster uuid {cluster}: {listed})")  # fmt: skip
        return "; ".join(found)

    def unproven_message(self) -> str:
        """Why --recover leaves these names alone: the ledger does not prove a drill made them here."""
        return (
            f"the restore ledger {self.ledger} names {', '.join(self.unproven)}, which it does not prove a drill "
            "restored into this cluster (a line without the cluster's uuid, or a name without the restore's "
            "rename prefix: a live index's name; with a signing key, a line it did not sign); drtests never "
            f"deletes them: check them, delete by hand what is a drill's copy, and remove {self.ledger}"
        )

    def elsewhere_message(self) -> str:
        """Why --recover cannot help: the copies are in a cluster this drill does not reach, and the
        same names here may be production's own indices."""
        clusters = ", ".join(self.elsewhere)
        return (
            f"the restore ledger {self.ledger} names indices an earlier drill restored into another cluster "
            f"(uuid {clusters}) than this drill restores into; drtests deletes a ledger's indices only in the "
            "cluster they were restored into (the same names here may be production's own): set "
            "restore_cluster.url back to that cluster and run with --recover, or delete them there by hand "
            f"and remove {self.ledger}"
        )


def ledger_path(cfg: DrillConfig) -> str:
    """The restore ledger: the exact names of the indices a drill is about to create, written on
    the target before the restore starts. Only those names are ever deleted, by the drill's safety
    step or by a later --recover; a user's index that merely looks like a restored copy is not."""
    return cfg.path(cfg.target.lock_file) + ".restored"


@dataclass(frozen=True)
class LedgerLine:
    name: str
    cluster: str  # "" in a ledger written before the cluster was recorded
    proven: bool = True  # with a signing key configured: the line carries a valid signature by it


def _ledger_entry(cfg: DrillConfig, name: str, cluster: str, drill_id: str) -> dict:
    """What a ledger line's signature covers: the name, its cluster, the drill, and the target."""
    return {"kind": "restored index", "name": name, "cluster": cluster, "drill": drill_id, "target": cfg.target_name}


def write_ledger(cfg: DrillConfig, host: TargetHost, names: list[str], cluster: str, drill_id: str) -> None:
    """One line per index: its name, the uuid of the cluster it is restored into, the drill, and,
    with a signing key, the line's signature. A restore cluster restores under production's own
    names, so a name alone must never be deleted in whatever cluster a later drill happens to
    reach; signed, a line someone on the target adds is not taken for a drill's."""
    key = drill_state.signing_key(cfg)

    def line(name: str) -> str:
        sig = drill_state.signature(key, _ledger_entry(cfg, name, cluster, drill_id)) if key is not None else ""
        return f"{name}\t{cluster}\t{drill_id}\t{sig}\n"

    if not host.write(ledger_path(cfg), "".join(line(name) for name in names)):
        raise DrillError(f"cannot write the restore ledger {ledger_path(cfg)} on {host.url}: nothing was restored")


def ledger_entries(cfg: DrillConfig, host: TargetHost) -> list[LedgerLine]:
    """The ledger's lines; with a signing key configured, one without a valid signature by it
    (written by hand, edited, or by a drill without the key) is not `proven`."""
    key = drill_state.signing_key(cfg)
    public = key.public_key() if key is not None else None
    found = []
    for text in (host.read(ledger_path(cfg)) or "").splitlines():
        name, cluster, drill, sig = (text.strip().split("\t") + ["", "", ""])[:4]
        if name:
            entry = dict(_ledger_entry(cfg, name, cluster, drill), sig=sig)
            found.append(LedgerLine(name, cluster, public is None or drill_state.signed(public, entry)))
    return found


def find(cfg: DrillConfig, host: TargetHost, node_state: str, es) -> Leftovers:
    lock = cfg.path(cfg.target.lock_file)
    holder = host.read(lock) or ""
    found = Leftovers(lock=lock, lock_holder=holder, holder_gone=bool(holder) and holder_is_gone(holder))
    found.node_inactive = bool(holder) and node_state == "inactive"
    for pidfile, pid, recorded, now in host.running_commands(cfg.state_dir):
        if now and recorded == now:  # the very process the drill started: same pid, same start time
            found.commands.append((pidfile, pid, pidfile_owner(pidfile)))
        elif now and not recorded:  # alive, but the file (an older drtests) cannot prove it is ours
            found.unprovable.append((pidfile, pid))
        else:  # gone, or its pid belongs to another process now: never signalled
            found.stale_pidfiles.append(pidfile)
    if es is not None and (recorded := ledger_entries(cfg, host)):
        here, ours = client.cluster_uuid(es), []
        # in production's cluster a drill's copy always carries the rename prefix; in a restore
        # cluster it has production's name, and the cluster's uuid is the proof
        prefix = "" if cfg.restore_cluster.url else cfg.elasticsearch.rename_replacement.split("$", 1)[0]
        for line in recorded:
            if not line.proven or not line.cluster or (line.cluster == here and not line.name.startswith(prefix)):
                found.unproven.append(line.name)
            elif line.cluster == here:
                ours.append(line.name)
            else:
                found.elsewhere.setdefault(line.cluster, []).append(line.name)
        found.restore_indices = client.existing_indices(es, ours)
        found.ledger = ledger_path(cfg)
    return found


def recover(leftovers, drill, host, service, es, cfg, say, remove_host) -> None:
    """--recover: undo what the interrupted drill left, each step recorded, while this drill holds
    the lock (it took the stale one over). A command it left running is ended first: the node
    must not start under a running import."""
    for pidfile, pid, owner in leftovers.commands:
        say(f"recover: ending the export/import of drill {owner or '?'} (pid {pid})")
        ended = host.run(f"kill -TERM {pid}", 30, sudo=True)
        wait_until(lambda pid=pid: host.run(f"test -d /proc/{pid}", 30).rc != 0, cfg.service.timeout,
                   f"the export/import (pid {pid}) left by drill {owner} did not end within {cfg.service.timeout:g}s "
                   f"of SIGTERM: end it by hand (kill {pid}) and run again")  # fmt: skip
        host.run(f"rm -f {quote(pidfile)}", 30, sudo=True)
        drill.step(PHASE, RECOVER_COMMAND(drill=owner or "?", pid=pid), ended)
    for pidfile in leftovers.stale_pidfiles:
        host.run(f"rm -f {quote(pidfile)}", 30, sudo=True)
    if leftovers.node_inactive:
        say(f"recover: starting {service.name}")
        drill.step(PHASE, RECOVER_START(unit=service.name), change_state(service, "active", cfg.service.timeout, say))
    for name in leftovers.hosts:
        say(f"recover: removing restore host {name}")
        remove_host(name)
        drill.step(PHASE, RECOVER_HOST(host=name))
    if leftovers.restore_indices:
        say(f"recover: deleting {len(leftovers.restore_indices)} restore indices")
        client.delete_indices(es, leftovers.restore_indices)
        drill.step(PHASE, RECOVER_INDICES(indices=", ".join(leftovers.restore_indices)))
    if leftovers.ledger and not leftovers.elsewhere and not leftovers.unproven:  # else kept: names to check
        host.remove(leftovers.ledger)
