"""Preflight: can the drill run here, and safely? Finds what an interrupted drill left behind
(recovering it only with --dr-recover), and takes the drill lock last."""

import os

import pytest

from drtests import alerts, recovery, telemetry
from drtests.drills.common import stackstate_version
from drtests.hosts import disposable
from drtests.hosts.service import change_state

pytestmark = pytest.mark.dr_phase("preflight")
PHASE = "preflight"


def test_preflight(dr_config, dr_drill, dr_target, dr_service, dr_stackgraph, dr_safety, dr_options, dr_say):
    cfg, drill, host = dr_config, dr_drill, dr_target
    dr_say(f"drill {drill.id} on {host.url} ({cfg.drill.mode})")
    reached = host.run("true", 60)
    drill.expect(
        PHASE,
        "target reachable",
        0,
        reached.rc,
        message=f"cannot run commands on {host.url}: {reached.tail(3) or 'exit ' + str(reached.rc)}",
    )
    drill.facts["target_host"] = host.name()

    version = stackstate_version(cfg, host)
    drill.facts["stackstate_version"] = {"target": version}
    if dr_options["gate"]:
        drill.expect(PHASE, "StackState version known (gate)", True, version is not None,
                     message="the pre-upgrade gate compares StackState versions: set stackstate.version_command "
                     f"(it failed or is empty on {host.url})")  # fmt: skip

    destructive = []
    if cfg.drill.mode == "in-place":
        destructive.append(f"overwrite the graph on {host.url} with the backup")
    if cfg.elasticsearch.enabled and cfg.elasticsearch.restore == "replace":
        destructive.append(f"delete the live indices {cfg.elasticsearch.indices} before restoring them")
    allowed = cfg.target.disposable or bool(dr_options["allow_destructive"])
    if destructive:
        drill.expect(
            PHASE,
            "destructive steps allowed",
            True,
            allowed,
            message=f"this drill would {' and '.join(destructive)}: mark the target disposable "
            "(target.disposable = true in the config) or pass --dr-allow-destructive",
        )

    if cfg.drill.mode == "isolated":
        problem = disposable.image_problem(cfg.isolated.image)
        drill.expect(PHASE, "restore host image available", None, problem, message=problem or "")

    graph_state = dr_stackgraph.state()
    drill.expect(
        PHASE,
        "StackGraph running",
        "active",
        graph_state,
        message=f"StackGraph ({dr_stackgraph.name}) is {graph_state} on {host.url}: start it first, "
        "export and import need it",
    )

    es = None
    if cfg.elasticsearch.enabled:
        es = telemetry.connect(cfg)
        version, health = telemetry.server_version(es), telemetry.health_status(es)
        drill.expect(
            PHASE,
            "Elasticsearch health not red",
            "green|yellow",
            health,
            ok=health != "red",
            message=f"Elasticsearch at {cfg.elasticsearch.url} is red: fix the cluster before a drill",
        )
        repo = telemetry.ensure_repository(es, cfg)
        drill.check(PHASE, "snapshot repository verified", True, bool(repo["verified_nodes"]))
        drill.facts["elasticsearch"] = {
            "url": cfg.elasticsearch.url,
            "version": version,
            "health": health,
            "repository": repo,
        }

    if cfg.alerts.stale_backup != "off":
        findings = alerts.stale_backup_findings(cfg, host, es)
        for finding in findings:
            dr_say(f"WARNING: {finding}")
        drill.warnings += findings
        if cfg.alerts.stale_backup == "fail":
            drill.expect(PHASE, "backups within the RPO objective", [], findings, message="; ".join(findings))

    leftovers = recovery.find(cfg, host, dr_service.state(), es)
    if leftovers and leftovers.lock_holder and not leftovers.holder_gone and not dr_options["recover"]:
        drill.expect(
            PHASE,
            "drill lock free",
            "",
            leftovers.lock_holder.strip(),
            message=f"drill lock {leftovers.lock} on {host.url} is held by: {leftovers.lock_holder.strip()} "
            f"— another drill is running; if it died, run with --dr-recover (or remove {leftovers.lock})",
        )
    if leftovers:
        drill.facts["leftovers"] = leftovers.describe()
        drill.expect(
            PHASE,
            "no leftovers of an interrupted drill",
            "",
            leftovers.describe(),
            ok=bool(dr_options["recover"]),
            message=f"found what an earlier drill left on {host.url}: {leftovers.describe()}. Run again with "
            "--dr-recover to remove the lock and the restore indices and start the node",
        )
        recover(leftovers, drill, host, dr_service, es, cfg, dr_say)

    node_state = dr_service.state()
    drill.facts["node_state_at_start"] = node_state
    drill.expect(
        PHASE,
        "node state known",
        True,
        node_state in ("active", "inactive"),
        message=f"{dr_service.name} on {host.url} is {node_state!r}: bring it to active or inactive before a drill",
    )
    if node_state == "active":
        dr_safety.register(
            f"{dr_service.name} active again",
            lambda: (
                dr_service.state() == "active"
                or change_state(dr_service, "active", cfg.service.restart_timeout, dr_say)
            ),
        )

    backup_dir = cfg.path(cfg.stackstate.backup_dir)
    drill.expect(
        PHASE,
        "backup folder exists",
        True,
        host.is_dir(backup_dir),
        message=f"backup folder {backup_dir} does not exist on {host.url}: create it, owned by {cfg.target.owner}",
    )
    drill.expect(
        PHASE,
        f"backup folder writable by {cfg.target.owner}",
        True,
        host.writable_by(backup_dir, cfg.target.owner),
        message=f"backup folder {backup_dir} on {host.url} is not writable by {cfg.target.owner}: "
        f"chown {cfg.target.owner} {backup_dir}",
    )
    free = host.free_mb(backup_dir)
    drill.expect(
        PHASE,
        "free space (MB)",
        f">= {cfg.target.min_free_mb}",
        free,
        ok=free >= cfg.target.min_free_mb,
        message=f"only {free} MB free in {backup_dir} on {host.url}, need {cfg.target.min_free_mb} MB: "
        "free space or lower target.min_free_mb",
    )
    log_file = cfg.path(cfg.stackstate.log_file)
    drill.expect(
        PHASE,
        "StackState log readable",
        True,
        host.exists(log_file),
        message=f"log file {log_file} not found on {host.url}: set stackstate.log_file",
    )

    lock = cfg.path(cfg.target.lock_file)
    holder = f"drill={drill.id} operator={drill.operator} pid={os.getpid()} started={drill.started}\n"
    taken = host.write_new(lock, holder)
    drill.expect(
        PHASE,
        "drill lock taken",
        True,
        taken,
        message=f"drill lock {lock} on {host.url} was taken by: {(host.read(lock) or '?').strip()}",
    )
    dr_safety.register(f"drill lock {lock} released", lambda: host.read(lock) == holder and host.remove(lock))
    dr_say("preflight passed")


def recover(leftovers, drill, host, service, es, cfg, say) -> None:
    """--dr-recover: undo what the interrupted drill left, each step recorded."""
    if leftovers.lock_holder:
        say(f"recover: removing drill lock {leftovers.lock} ({leftovers.lock_holder.strip()})")
        host.remove(leftovers.lock)
        drill.step(PHASE, f"recover: remove drill lock {leftovers.lock}")
    if leftovers.node_inactive:
        say(f"recover: starting {service.name}")
        drill.step(PHASE, f"recover: start {service.name}", change_state(service, "active", cfg.service.timeout, say))
    if leftovers.restore_indices:
        say(f"recover: deleting {len(leftovers.restore_indices)} restore indices")
        telemetry.delete_indices(es, leftovers.restore_indices)
        drill.step(PHASE, f"recover: delete restore indices {', '.join(leftovers.restore_indices)}")
