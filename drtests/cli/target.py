"""The commands that reach a target without a drill: `prune` (what old drills left) and
`record-backup` (the facts of a fresh backup, beside it)."""

from __future__ import annotations

import sys
from pathlib import Path

from drtests.cli.codes import INFRASTRUCTURE_ERROR, USAGE_ERROR


def prune_artifacts(configs: list, root: Path, yes: bool) -> int:
    from drtests import drill_state, retention
    from drtests.errors import DrillError
    from drtests.hosts.host import TargetHost

    if not root.is_dir():
        print(
            f"drtests: error: {root}: no such report folder (prune reads the drills' evidence there)", file=sys.stderr
        )
        return USAGE_ERROR
    for cfg in configs:
        t = cfg.target
        try:  # what drills made is recorded on the target: prune reads it there, also for the plan
            host = TargetHost(t.url, t.sudo, t.ssh_config, t.ssh_identity_file, cfg.secret_names)
            made = drill_state.made(cfg, host)
        except DrillError as exc:
            print(f"drtests: error: {cfg.target_name}: {exc}", file=sys.stderr)
            return INFRASTRUCTURE_ERROR
        try:
            delete, keep = retention.plan(cfg, root, made)
        except DrillError as exc:  # a broken ledger: nothing it names is taken at its word
            print(f"drtests: error: {exc}: nothing deleted", file=sys.stderr)
            return 1
        print(f"{cfg.target_name}: keep {len(keep)}, delete {len(delete)} (of what drills recorded in "
              f"{drill_state.path(cfg)} on {t.url})")  # fmt: skip
        unproven = {(m.kind, m.name, m.drill) for m in made if not m.proven}
        for artifact in keep:
            why = ": its line is not signed by the drill key, so not proven a drill made it" if \
                (artifact.kind, artifact.name, artifact.drill_id) in unproven else ""  # fmt: skip
            print(f"  keep   {artifact}{why}")
        for artifact in delete:
            print(f"  {'delete' if yes else 'would delete'} {artifact}")
        if not yes or not delete:
            continue
        try:
            es = None
            if cfg.elasticsearch.enabled and any(a.kind == "snapshot" for a in delete):
                from drtests.es.client import connect

                es = connect(cfg)
            done, refused = retention.prune(cfg, root, host, es, made)
        except DrillError as exc:
            print(f"drtests: error: {cfg.target_name}: {exc}", file=sys.stderr)
            return INFRASTRUCTURE_ERROR
        for line in refused:
            print(f"  {line}")
        print(f"{cfg.target_name}: {len(done)} deleted (recorded in {root / retention.PRUNES})")
    if not yes:
        print("nothing was deleted: run again with --yes to delete")
    return 0


def record_backup(configs: list, file: str | None) -> int:
    """Write the backup-time facts beside the backup, as the install's owner."""
    import json
    import random
    import time

    from drtests import existing
    from drtests.errors import DrillError
    from drtests.hosts.host import TargetHost, quote
    from drtests.topology.probes import make_probe

    for cfg in configs:
        t = cfg.target
        try:
            host = TargetHost(t.url, t.sudo, t.ssh_config, t.ssh_identity_file, cfg.secret_names)
            if file:
                path = file
            else:
                candidates = existing.backup_candidates(cfg, host)
                path = existing.pick_backup(cfg, candidates, time.time(), random.Random(), pick="newest").picked
            artifact = host.file_facts(path)
            facts = existing.backup_time_facts(cfg, artifact, make_probe(cfg, host).counts(), host.name())
            target = existing.facts_path(path)
            text = json.dumps(facts, indent=2) + "\n"
            wrote = host.run(f"printf %s {quote(text)} > {quote(target)}", 60, sudo=True, as_user=t.owner)
            if wrote.rc != 0:
                raise DrillError(f"cannot write {target} on {host.url}: {wrote.tail(2)}")
        except DrillError as exc:
            print(f"drtests: error: {cfg.target_name}: {exc}", file=sys.stderr)
            return INFRASTRUCTURE_ERROR
        nodes = sum(facts["topology"].values())
        print(f"{cfg.target_name}: recorded {target}: {artifact.size} bytes, sha256 {artifact.sha256}, "
              f"{nodes} nodes in {len(facts['topology'])} types")  # fmt: skip
    return 0
