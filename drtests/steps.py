"""What the phase modules (and the modes' phase parts) share: the steps and checks several of
them record, declared once (drtests.declared), how a phase skips or fails, the node restarted,
and full verification's choice and comparison.

Each phase module declares its steps and checks at the top; `plan(cfg, options)` lists them in
order (`drtests plan` prints exactly that) and the test records them under the same names, so
the plan cannot drift from the drill (tests/unit/test_declarations.py, and an e2e comparison).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from drtests.config import DrillConfig
from drtests.declared import EACH_INDEX, EACH_TYPE, Declared, Planned, check, step
from drtests.es import digests, shares
from drtests.hosts.service import Service, change_state
from drtests.record.drill import Drill
from drtests.record.results import FullVerify, RestoreShare

__all__ = ["EACH_INDEX", "EACH_TYPE", "Declared", "Planned", "check", "step"]


STOP_NODE, START_NODE = step("stop {unit}"), step("start {unit}")  # the node, in backup and restore
NODE_ACTIVE_AGAIN = check("node active again")
FULL = check("full {index}")  # one per index verified in full
PHASE_COMPLETED = check("{phase} phase completed")  # a phase stopped by an error, not by a check
# the backup phase's and an existing-backup drill's (the same facts of the file and the snapshot)
FILE_FACTS, FILE_NON_EMPTY, SHA256_RECORDED = (
    step("backup file facts"),
    check("backup file non-empty"),
    check("backup sha256 recorded"),
)
SNAPSHOT_STATE, SNAPSHOT_FAILED_SHARDS = check("snapshot state"), check("snapshot failed shards")
SNAPSHOT_HOLDS_EVERY_INDEX = check("snapshot holds every index")
# the restore phase's and the restore host's (modes)
VERSIONS_MATCH = check("StackState versions match")
COPY_BACKUP, COPY_INTACT = step("copy backup file to restore host"), check("backup file intact after the copy (sha256)")
RESTORE_SNAPSHOT = step("restore snapshot")  # the telemetry path of the restore (the forecast reads it too)


def require(drill: Drill, *needed: str) -> None:
    """Skip the calling phase when a phase it builds on did not pass."""
    for phase in needed:
        record = drill.phases[phase]
        if record.status != "pass":
            reason = record.message or record.status
            if record.status == "skipped" and reason.startswith("blocked by "):
                pytest.skip(reason)
            pytest.skip(f"blocked by {phase}: {reason}")


def expect(drill: Drill, phase: str, name: str, expected: object, actual: object, ok: bool | None = None,
           message: str = "") -> None:  # fmt: skip
    """A check the phase cannot go on without: record it, and fail the phase at once if it fails."""
    if not drill.check(phase, name, expected, actual, ok, message):
        pytest.fail(message or f"{name}: expected {expected}, got {actual}", pytrace=False)


def assert_checks(drill: Drill, phase: str) -> None:
    """Fail the phase with every failed check's message, one per line."""
    failed = drill.failed_checks(phase)
    if failed:
        pytest.fail(
            "\n".join(c.message or f"{c.name}: expected {c.expected}, got {c.actual}" for c in failed), pytrace=False
        )


def node_commands(cfg: DrillConfig) -> tuple[str, str]:
    """How the node is stopped and started, in words for a plan."""
    svc = cfg.service
    if svc.backend == "systemd":
        return f"systemctl stop {svc.unit}", f"systemctl start {svc.unit}"
    return cfg.command(svc.stop_command), cfg.command(svc.start_command)


def restart_node(phase: str, drill: Drill, service: Service, cfg: DrillConfig, say: Callable[[str], None],
                 was_active: bool) -> None:  # fmt: skip
    """Start the node again if it ran before; the outcome is a check of its own."""
    if not was_active:
        drill.step(phase, START_NODE(unit=service.name), outcome="skipped")  # it was not running: left as found
        return
    say(f"starting {service.name}")
    try:
        drill.step(phase, START_NODE(unit=service.name), change_state(service, "active", cfg.service.timeout, say))
        # read again after the start's wait saw it active: its state then would make this check unable to fail
        # (a unit of Type=simple reads active before its process dies)
        drill.check(phase, NODE_ACTIVE_AGAIN(), "active", service.state())
    except Exception as exc:
        drill.check(phase, NODE_ACTIVE_AGAIN(), "active", service.state(), message=str(exc))


def drill_sequence(cfg: DrillConfig, options, drills_before: int) -> int:
    """The drill's number for its target, which moves rotating shares on: how many drills of the
    target came before, the larger of what the target's own drill state records (`drills_before`:
    it survives an empty report folder, as in CI) and what the report folder's history holds."""
    from drtests.record import store

    earlier = [e for e in store.history(Path(options.report_dir)) if e.target_name == cfg.target_name]
    return max(len(earlier), drills_before)


def full_step(cfg: DrillConfig, phase: str, declared: Declared, prefix: str = "") -> Planned | None:
    spec = cfg.elasticsearch.full_verify
    if spec == "off":
        return None
    return declared.planned(
        phase,
        f"{prefix}every document of {spec} of the indices (rotating with the drill's number for "
        "the target), read with search_after on a point in time, slices in parallel",
    )


def restore_leaves_source(cfg: DrillConfig) -> bool:
    """The snapshot restore writes copies the node and the source never see (renamed, or into a
    restore cluster); a replace-mode restore rewrites the node's own indices."""
    return cfg.elasticsearch.restore == "rename" or bool(cfg.restore_cluster.url)


def restore_share_choice(cfg: DrillConfig, names: list[str], sequence: int) -> RestoreShare | None:
    """elasticsearch.restore_share: which of the snapshot's indices `names` drill number
    `sequence` restores; None for "1/1" (all of them)."""
    spec = cfg.elasticsearch.restore_share
    if spec == "1/1":
        return None
    return shares.restore_share(names, spec, sequence)


def full_verify_choice(cfg: DrillConfig, names: list[str], sequence: int) -> FullVerify | None:
    """elasticsearch.full_verify: which of `names` (indices this drill restores) drill number
    `sequence` hashes in full."""
    spec = cfg.elasticsearch.full_verify
    if spec == "off":
        return None
    return FullVerify(spec, sequence, digests.chosen_for_full_verify(sorted(names), spec, sequence))


def compare_full(drill: Drill, phase: str, mapping: dict[str, str], rule: str = "at snapshot time") -> None:
    """A check per fully hashed index: the restored copy's digest of every document == the source's."""
    full = drill.backup.full_verify
    for orig in full.indices:
        before, after, new = full.source.get(orig, {}), full.restored.get(orig, {}), mapping.get(orig, orig)
        n, m = before.get("docs"), after.get("docs")
        drill.check(phase, FULL(index=orig), before.get("digest"), after.get("digest"),
                    message=f"index {orig}: full verification differs: {n} docs {rule} hashed to "
                    f"{str(before.get('digest'))[:16]}..., {m} in restored {new} to {str(after.get('digest'))[:16]}... "
                    f"(a document was changed, lost or added)")  # fmt: skip


def stackstate_version(cfg: DrillConfig, host) -> str | None:
    """The installed version from stackstate.version_command, None when not configured or failing."""
    if not cfg.stackstate.version_command:
        return None
    result = host.run(cfg.command(cfg.stackstate.version_command), 60)
    return result.stdout.strip().splitlines()[-1] if result.rc == 0 and result.stdout.strip() else None
