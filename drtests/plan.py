"""What a drill would do, step by step, from its config alone (`drtests plan`): touches nothing."""

from __future__ import annotations

from drtests.config import DrillConfig


def plan(cfg: DrillConfig, allow_destructive: bool = False, keep: bool = False) -> list[tuple[str, str]]:
    """(phase, step) pairs in the order the drill runs them."""
    st, svc, es, probe = cfg.stackstate, cfg.service, cfg.elasticsearch, cfg.probe
    backup = f"{cfg.path(st.backup_dir).rstrip('/')}/drtests-<drill-id>.graph"
    if svc.backend == "systemd":
        node_stop, node_start = f"systemctl stop {svc.unit}", f"systemctl start {svc.unit}"
        graph_status = f"systemctl is-active {svc.stackgraph_unit}"
    else:
        node_stop, node_start = cfg.path(svc.stop_command), cfg.path(svc.start_command)
        graph_status = cfg.path(svc.stackgraph_status_command)
    if probe.kind == "cli":
        probe_step = (
            f"count nodes per type with `{cfg.path(probe.cli_command, type='<Type>')}` for {', '.join(probe.types)}"
        )
    elif probe.kind == "api":
        probe_step = f"count nodes per type with GET {probe.api_url}{probe.api_path} for {', '.join(probe.types)}"
    else:
        probe_step = f"count nodes per type with `{cfg.path(probe.command)}`"
    steps = [
        ("preflight", f"connect to {cfg.target.url} and run a command"),
        (
            "preflight",
            "refuse unless the target is disposable or --dr-allow-destructive is given"
            + ("" if cfg.target.disposable or allow_destructive else " (it is neither: the drill would stop here)"),
        ),
        ("preflight", f"StackGraph must be active: `{graph_status}`"),
        ("preflight", f"record the state of {svc.unit}"),
        (
            "preflight",
            f"{cfg.path(st.backup_dir)} must exist, be writable by {cfg.target.owner}, "
            f"have {cfg.target.min_free_mb} MB free",
        ),
        ("preflight", f"{cfg.path(st.log_file)} must exist"),
    ]
    if es.enabled:
        register = (
            f"register fs repository {es.repository} at {es.repository_location}, " if es.repository_location else ""
        )
        steps.append(
            ("preflight", f"Elasticsearch {es.url}: not red; {register}repository {es.repository} must _verify")
        )
    steps += [
        ("preflight", f"take the drill lock {cfg.path(cfg.target.lock_file)}"),
        ("baseline", probe_step),
    ]
    if es.enabled:
        steps.append(
            (
                "baseline",
                f"refresh and count docs of {es.indices}; fingerprint {es.fingerprint_sample} "
                "first and last docs per index",
            )
        )
    steps += [
        ("backup", f"stop the node: `{node_stop}` and wait until inactive (timeout {svc.timeout:g}s)"),
        ("backup", f"export: `{cfg.path(st.export_command, file=backup)}` (timeout {st.export_timeout:g}s)"),
        ("backup", f"start the node again, always: `{node_start}`"),
        ("backup", "record the backup file's size, sha256, owner, mode, mtime"),
    ]
    if es.enabled:
        steps.append(
            (
                "backup",
                f"snapshot {es.indices} into {es.repository} (include_global_state=false); "
                "require SUCCESS and 0 failed shards",
            )
        )
    steps += [
        ("restore", f"stop the node: `{node_stop}`"),
        (
            "restore",
            f"import: `{cfg.path(st.import_command, file=backup)}` (timeout {st.import_timeout:g}s), "
            f"following {cfg.path(st.log_file)}",
        ),
        ("restore", "require exit 0, the restore start line, the 'changes till' watermark, no ERROR line"),
        ("restore", f"start the node: `{node_start}`"),
    ]
    if es.enabled:
        if es.restore == "rename":
            where = f"renamed {es.rename_pattern} -> {es.rename_replacement}"
            cleanup = "kept (--dr-keep)" if keep else "deleted at the end"
            steps.append(
                ("restore", f"restore the snapshot {where} (never over live indices); restored indices {cleanup}")
            )
        else:
            steps.append(
                ("restore", f"DELETE the live indices {es.indices}, wait for 404, restore them from the snapshot")
            )
    steps += [
        ("verify", "topology counts per type after == before"),
        ("verify", "doc counts and fingerprints of the restored indices == at snapshot time") if es.enabled else None,
        (
            "verify",
            f"RTO (restore phase wall time) <= {cfg.objectives.rto_seconds:g}s; "
            f"RPO (drill start - watermark) <= {cfg.objectives.rpo_seconds:g}s",
        ),
        ("report", "write evidence.json and report.html under the report folder; point latest at it"),
    ]
    return [s for s in steps if s]
