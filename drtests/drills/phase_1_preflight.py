"""Preflight: can the drill run here, and safely? Finds what an interrupted drill left behind
(recovering it only when told to, and only what is proven stale), then takes the drill lock
before it registers any safety step: a drill that loses the race for the lock changes nothing."""

import shlex

import pytest

from drtests import existing, modes, recovery
from drtests.config import DrillConfig
from drtests.drills import ledger_head
from drtests.drills.lock import LOCK_TAKEN, TAKE_LOCK, take_lock
from drtests.drills.restore_cluster import RC_READS, RC_REPOSITORY, RC_ROOM, check_restore_cluster, check_restore_room
from drtests.es import client, snapshots
from drtests.hosts.service import change_state
from drtests.options import DrillOptions
from drtests.record.results import ElasticsearchFacts
from drtests.steps import Planned, assert_checks, check, expect, node_commands, stackstate_version, step

pytestmark = pytest.mark.dr_phase("preflight")
PHASE = "preflight"
TARGET_REACHABLE = check("target reachable")
VERSION_KNOWN = check("StackState version known (gate)")
DESTRUCTIVE_ALLOWED = check("destructive steps allowed")
STACKGRAPH_RUNNING = check("StackGraph running")
HEALTH_NOT_RED = check("Elasticsearch health not red")
REPOSITORY = step("snapshot repository {repository}")
REPOSITORY_VERIFIED = check("snapshot repository verified")
NAMES_FREE = check("restore names free")
BACKUPS_FRESH = check("backups within the RPO objective")
LOCK_FREE = check("drill lock free")
NO_LEFTOVERS = check("no leftovers of an interrupted drill")
LEDGER_HERE = check("restore ledger names no other cluster")
LEDGER_PROVEN = check("restore ledger proves every name it holds")
COMMANDS_PROVEN = check("every command left running is proven ours")
NODE_STATE_KNOWN = check("node state known")
FOLDER_EXISTS = check("backup folder exists")
FOLDER_WRITABLE = check("backup folder writable by {owner}")
FREE_SPACE = check("free space (MB)")
LOG_READABLE = check("StackState log readable")


def plan(cfg: DrillConfig, options: DrillOptions) -> list[Planned]:
    es, svc, owner = cfg.elasticsearch, cfg.service, cfg.target.owner
    graph_status = (f"systemctl is-active {svc.stackgraph_unit}" if svc.backend == "systemd"
                    else cfg.command(svc.stackgraph_status_command))  # fmt: skip
    backup_dir = cfg.path(cfg.stackstate.backup_dir)
    planned = [TARGET_REACHABLE.planned(PHASE, f"connect to {cfg.target.url} and run a command")]
    if options.gate:
        planned.append(VERSION_KNOWN.planned(PHASE, f"`{cfg.stackstate.version_command}`"))
    if destructive_steps(cfg):
        allowed = cfg.target.disposable or options.allow_destructive
        planned.append(DESTRUCTIVE_ALLOWED.planned(PHASE, "refuse unless the target is disposable or "
                             f"{options.flag('allow-destructive')} is given" + ("" if allowed else
                             " (it is neither: the drill would stop here)")))  # fmt: skip
    planned += modes.of(cfg).preflight_plan(cfg)
    planned.append(STACKGRAPH_RUNNING.planned(PHASE, f"`{graph_status}`"))
    if es.enabled:
        register = (
            f"register fs repository {es.repository} at {es.repository_location}, " if es.repository_location else ""
        )
        planned += [
            HEALTH_NOT_RED.planned(PHASE, f"Elasticsearch {es.url}"),
            REPOSITORY.planned(PHASE, f"{register}POST _snapshot/{es.repository}/_verify", repository=es.repository),
            REPOSITORY_VERIFIED.planned(PHASE),
        ]
    if es.enabled and cfg.restore_cluster.url:
        url = cfg.restore_cluster.url
        share = "" if es.restore_share == "1/1" else f"this drill's restore share {es.restore_share} of "
        planned += [
            RC_REPOSITORY.planned(PHASE, repository=es.repository, detail=f"registered read-only there (refused when "
                 f"writable: two clusters writing one repository corrupt it); POST _snapshot/{es.repository}/_verify"),
            RC_READS.planned(PHASE, "its version >= the production cluster's"),
            RC_ROOM.planned(PHASE, f"disk available >= the primaries of {share}{es.indices} + 10 %"),
            NAMES_FREE.planned(PHASE, f"no index named like one of {es.indices} on {url}"),
        ]  # fmt: skip
    if cfg.alerts.stale_backup == "fail":
        planned.append(BACKUPS_FRESH.planned(PHASE, "newest backup file and snapshot"))
    if es.enabled and es.restore == "rename" and not cfg.restore_cluster.url:
        planned.append(NAMES_FREE.planned(PHASE, f"no index named as a restored copy ({es.rename_replacement})"))
    planned += [
        TAKE_LOCK.planned(PHASE, cfg.path(cfg.target.lock_file)),
        LOCK_TAKEN.planned(PHASE),
        *ledger_head.plan(cfg, options),
        NODE_STATE_KNOWN.planned(PHASE, f"record the state of {svc.unit}"),
        FOLDER_EXISTS.planned(PHASE, backup_dir),
    ]
    if modes.of(cfg).takes_backup:  # else the drill writes nothing on the target
        planned += [
            FOLDER_WRITABLE.planned(PHASE, f"{backup_dir}, asked as {owner}", owner=owner),
            FREE_SPACE.planned(PHASE,
                  f">= {cfg.target.min_free_mb} MB, or the newest backup's size + 20 %, in {backup_dir}"),
            LOG_READABLE.planned(PHASE, cfg.path(cfg.stackstate.log_file)),
        ]  # fmt: skip
    return planned


def destructive_steps(cfg: DrillConfig) -> list[str]:
    """What this drill would overwrite on the target, in words (empty: nothing)."""
    destructive = modes.of(cfg).destructive_steps(cfg)
    if cfg.elasticsearch.enabled and cfg.elasticsearch.restore == "replace" and not cfg.restore_cluster.url:
        destructive.append(f"delete the live indices {cfg.elasticsearch.indices} before restoring them")
    return destructive


def test_preflight(dr_config, dr_drill, dr_target, dr_service, dr_stackgraph, dr_safety, dr_options, dr_say, request):
    cfg, drill, host = dr_config, dr_drill, dr_target
    check_target(cfg, drill, host, dr_options, dr_say)
    check_allowed(cfg, drill, dr_options)
    check_stackgraph(drill, host, dr_stackgraph)
    es = check_elasticsearch(cfg, drill)
    restore_es = es
    if es is not None and cfg.restore_cluster.url:
        restore_es = check_restore_cluster(cfg, drill, es, request)

    check_backups_fresh(cfg, drill, host, es, dr_say)
    leftovers = check_leftovers(cfg, drill, host, dr_service, restore_es, dr_options)
    # The lock before anything is changed or registered to undo: a drill that loses the race for
    # it must not start (or stop, or delete) anything under the drill that holds it.
    take_lock(cfg, drill, host, dr_safety, leftovers.lock_holder if leftovers else "")
    if leftovers:
        recover_leftovers(leftovers, cfg, drill, host, dr_service, restore_es, dr_say)
    ledger_head.check_head(cfg, drill, host, dr_options, dr_say)
    ledger_head.check_key(cfg, drill, dr_options)
    if es is not None and cfg.restore_cluster.url:  # the drill's number is known now: its restore share
        check_restore_room(cfg, drill, es, restore_es)
    check_restore_names(cfg, drill, es, restore_es)
    check_node_state(cfg, drill, host, dr_service, dr_safety, dr_say)
    check_backup_folder(cfg, drill, host)
    if modes.of(cfg).takes_backup:  # else nothing is written on the target: no room needed
        check_room(cfg, drill, host)
    assert_checks(drill, PHASE)  # a failed preflight check stops the drill before the target is touched
    dr_say("preflight passed")


def check_target(cfg, drill, host, dr_options, dr_say) -> None:
    """The target runs commands; a gate also needs the StackState version."""
    dr_say(f"drill {drill.id} on {host.url} ({cfg.drill.mode})")
    reached = host.run("true", 60)
    expect(
        drill,
        PHASE,
        TARGET_REACHABLE(),
        "a command runs on the target",
        "it ran" if reached.rc == 0 else f"it failed (exit {reached.rc})",
        ok=reached.rc == 0,
        message=f"cannot run commands on {host.url}: {reached.tail(3) or 'exit ' + str(reached.rc)}",
    )
    drill.preflight.target_host = host.name()

    version = drill.preflight.stackstate_version = stackstate_version(cfg, host)
    if dr_options.gate:
        expect(drill, PHASE, VERSION_KNOWN(), True, version is not None,
               message="the pre-upgrade gate compares StackState versions: set stackstate.version_command "
               f"(it failed or is empty on {host.url})")  # fmt: skip


def check_allowed(cfg, drill, dr_options) -> None:
    """A destructive step only on a disposable target or with --allow-destructive; the mode's own checks."""
    destructive = destructive_steps(cfg)
    allowed = cfg.target.disposable or dr_options.allow_destructive
    if destructive:
        expect(
            drill,
            PHASE,
            DESTRUCTIVE_ALLOWED(),
            True,
            allowed,
            message=f"this drill would {' and '.join(destructive)}: mark the target disposable "
            f"(target.disposable = true in the config) or pass {dr_options.flag('allow-destructive')}",
        )

    modes.of(cfg).check_preflight(cfg, drill)


def check_stackgraph(drill, host, dr_stackgraph) -> None:
    """StackGraph runs: export and import need it."""
    graph_state = dr_stackgraph.state()
    expect(
        drill,
        PHASE,
        STACKGRAPH_RUNNING(),
        "active",
        graph_state,
        message=f"StackGraph ({dr_stackgraph.name}) is {graph_state} on {host.url}: start it first, "
        "export and import need it",
    )


def check_elasticsearch(cfg, drill):
    """Elasticsearch answers, is not red and its snapshot repository verifies; its client (None: disabled)."""
    if not cfg.elasticsearch.enabled:
        return None
    es = client.connect(cfg)
    version, health = client.server_version(es), client.health_status(es)
    expect(
        drill,
        PHASE,
        HEALTH_NOT_RED(),
        "green|yellow",
        health,
        ok=health != "red",
        message=f"Elasticsearch at {cfg.elasticsearch.url} is red: fix the cluster before a drill",
    )
    repository = cfg.elasticsearch.repository
    with drill.timed_step(PHASE, REPOSITORY(repository=repository), f"POST _snapshot/{repository}/_verify"):
        repo = snapshots.ensure_repository(es, cfg)
    nodes = len(repo["verified_nodes"])
    expect(drill, PHASE, REPOSITORY_VERIFIED(), "> 0 nodes", nodes, ok=nodes > 0,
           message=f"snapshot repository {repository} on {cfg.elasticsearch.url}: no node verified it (POST "
           f"_snapshot/{repository}/_verify): a snapshot there would fail")  # fmt: skip
    drill.preflight.elasticsearch = ElasticsearchFacts(cfg.elasticsearch.url, version, health, repo)
    return es


def check_backups_fresh(cfg, drill, host, es, dr_say) -> None:
    """alerts.stale_backup: the installation's own backups within the RPO objective (a warning, or a failure)."""
    if cfg.alerts.stale_backup != "off":
        findings = existing.stale_backup_findings(cfg, host, es)
        for finding in findings:
            dr_say(f"WARNING: {finding}")
        drill.warnings += findings
        if cfg.alerts.stale_backup == "fail":
            expect(drill, PHASE, BACKUPS_FRESH(), [], findings, message="; ".join(findings))


def check_leftovers(cfg, drill, host, dr_service, restore_es, dr_options):
    """What an interrupted drill left: a lock held by a drill not known to be gone stops this one;
    the rest stops it too unless --recover (then recovered once this drill holds the lock)."""
    leftovers = recovery.find(cfg, host, dr_service.state(), restore_es)  # restore indices: where they are made
    holder, mode = leftovers.lock_holder.strip(), modes.of(cfg)
    leftovers.hosts = mode.leftover_hosts(cfg, recovery.holder_drill(holder) if leftovers.holder_gone else "")
    named = recovery.lock_named(holder, dr_options.recover_drill)
    if holder and not leftovers.holder_gone and not (dr_options.recover and named):
        ours = recovery.holder_drill(holder)
        recover_flags = " ".join(
            (dr_options.flag("recover"), dr_options.flag("recover-drill"), shlex.quote(ours or holder))
        )
        held_by = (
            "another drill is running (its process is not known to be gone: another machine, or still alive); "
            f"if you know that drill is dead, run with {recover_flags} (or remove {leftovers.lock})"
        )
        if not ours:
            held_by = (
                "text drtests did not write (someone's own lock: maintenance?), so drtests never removes it unless "
                f"it is named whole: when you know it is stale, run with {recover_flags} (or remove {leftovers.lock})"
            )
        expect(
            drill,
            PHASE,
            LOCK_FREE(),
            "",
            holder,
            message=f"drill lock {leftovers.lock} on {host.url} is held by: {holder} — {held_by}",
        )
    if leftovers:
        drill.preflight.leftovers = leftovers.describe()
        expect(
            drill,
            PHASE,
            NO_LEFTOVERS(),
            "",
            leftovers.describe(),
            ok=dr_options.recover,
            message=f"found what an earlier drill left on {host.url}: {leftovers.describe()}. Run again with "
            f"{dr_options.flag('recover')} to end what still runs, remove the lock, the restore hosts and the "
            "restore indices and start the node"
            + (f"; but {leftovers.elsewhere_message()}" if leftovers.elsewhere else ""),
        )
    return leftovers


def recover_leftovers(leftovers, cfg, drill, host, dr_service, restore_es, dr_say) -> None:
    """--recover, holding the lock: end what runs, remove restore hosts and indices, start the node."""
    unprovable = [f"{pid} ({pidfile})" for pidfile, pid in leftovers.unprovable]
    expect(drill, PHASE, COMMANDS_PROVEN(), [], unprovable,
           message=f"on {host.url} a process runs under a pid an earlier drill's pid file names, and the file "
           f"cannot prove it is that drill's export or import: {', '.join(unprovable)}; drtests signals no "
           "process it cannot prove its own: end it by hand if it is, remove the pid file, and run again")  # fmt: skip
    recovery.recover(leftovers, drill, host, dr_service, restore_es, cfg, dr_say, modes.of(cfg).remove_host)
    expect(drill, PHASE, LEDGER_HERE(), [], sorted(leftovers.elsewhere), message=leftovers.elsewhere_message())
    expect(drill, PHASE, LEDGER_PROVEN(), [], leftovers.unproven, message=leftovers.unproven_message())


def check_restore_names(cfg, drill, es, restore_es) -> None:
    """No index has a name the restore would create (no drill recorded it: drtests leaves it alone)."""
    if es is not None and cfg.restore_cluster.url:
        live = client.index_names(es, cfg.elasticsearch.indices)
        taken = client.existing_indices(restore_es, live)
        expect(drill, PHASE, NAMES_FREE(), [], taken,
               message=f"index {taken[0] if taken else ''} already exists on the restore cluster "
               f"{cfg.restore_cluster.url} and no drill recorded it (it is not in the restore ledger), so drtests "
               "leaves it alone: delete it there (the restore cluster restores under the original names)")  # fmt: skip
    elif es is not None and cfg.elasticsearch.restore == "rename":
        live = client.index_names(es, cfg.elasticsearch.indices)
        taken = client.existing_indices(es, sorted(set(snapshots.renamed(cfg, live).values()) - set(live)))
        expect(drill, PHASE, NAMES_FREE(), [], taken,
               message=f"index {taken[0] if taken else ''} already exists under the name a restored copy would take, "
               "and no drill recorded it (it is not in the restore ledger), so drtests leaves it alone: delete or "
               "rename it, or change elasticsearch.rename_replacement")  # fmt: skip


def check_node_state(cfg, drill, host, dr_service, dr_safety, dr_say) -> None:
    """The node is active or inactive (recorded); if active, "active again" is a safety step."""
    node_state = dr_service.state()
    drill.preflight.node_state_at_start = node_state
    expect(
        drill,
        PHASE,
        NODE_STATE_KNOWN(),
        True,
        node_state in ("active", "inactive"),
        message=f"{dr_service.name} on {host.url} is {node_state!r}: bring it to active or inactive before a drill",
    )
    if node_state == "active":
        start = node_commands(cfg)[1]
        dr_safety.register(
            f"{dr_service.name} active again",
            lambda: (
                dr_service.state() == "active"
                or change_state(dr_service, "active", cfg.service.restart_timeout, dr_say)
            ),
            f"{dr_service.name} on {host.url} is not running: start it ({start}) and check its log",
        )


def check_backup_folder(cfg, drill, host) -> None:
    backup_dir = cfg.path(cfg.stackstate.backup_dir)
    expect(
        drill,
        PHASE,
        FOLDER_EXISTS(),
        True,
        host.is_dir(backup_dir),
        message=f"backup folder {backup_dir} does not exist on {host.url}: create it, owned by {cfg.target.owner}",
    )


def check_room(cfg, drill, host) -> None:
    """The backup folder is writable by the owner and has room for the next backup; the log is readable."""
    backup_dir = cfg.path(cfg.stackstate.backup_dir)
    expect(
        drill,
        PHASE,
        FOLDER_WRITABLE(owner=cfg.target.owner),
        True,
        host.writable_by(backup_dir, cfg.target.owner),
        message=f"backup folder {backup_dir} on {host.url} is not writable by {cfg.target.owner}: "
        f"chown {cfg.target.owner} {backup_dir}",
    )
    free, last_mb = host.free_mb(backup_dir), host.newest_file_mb(backup_dir, "*.graph")
    need = max(cfg.target.min_free_mb, round(1.2 * last_mb))  # room for the next backup: the last one's size + 20 %
    why = f"the newest backup is {last_mb} MB, + 20 %" if need > cfg.target.min_free_mb else "target.min_free_mb"
    expect(
        drill,
        PHASE,
        FREE_SPACE(),
        f">= {need} ({why})",
        free,
        ok=free >= need,
        message=f"only {free} MB free in {backup_dir} on {host.url}, need {need} MB ({why}): free space "
        "(drtests prune removes old drill backups) or lower target.min_free_mb",
    )
    log_file = cfg.path(cfg.stackstate.log_file)
    expect(
        drill,
        PHASE,
        LOG_READABLE(),
        True,
        host.exists(log_file),
        message=f"log file {log_file} not found on {host.url}: set stackstate.log_file",
    )
