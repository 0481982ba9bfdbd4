"""Preflight's checks of the restore cluster (restore_cluster.url): it answers, reads the snapshot
repository read-only, can read production's snapshots and has room for them."""

from __future__ import annotations

from drtests.config import DrillConfig
from drtests.errors import Unreachable
from drtests.es import client, snapshots
from drtests.record.results import ElasticsearchFacts
from drtests.steps import check, expect, restore_share_choice, step

PHASE = "preflight"
RC_REACHABLE = check("restore cluster reachable")
RC_REPOSITORY = step("restore cluster repository {repository}")
RC_READS = check("restore cluster reads the snapshots")
RC_ROOM = check("restore cluster has room (MB)")


def check_restore_cluster(cfg: DrillConfig, drill, es, request):
    """The restore cluster answers, reads the repository read-only and can read production's
    snapshots (its room: check_restore_room); returns its client."""
    url = cfg.restore_cluster.url
    try:
        restore_es = request.getfixturevalue("dr_restore_es")
    except Unreachable as exc:
        drill.check(PHASE, RC_REACHABLE(), f"{url} answers", str(exc), ok=False, message=str(exc))  # only a failure
        raise
    repository = cfg.elasticsearch.repository
    with drill.timed_step(PHASE, RC_REPOSITORY(repository=repository), f"POST _snapshot/{repository}/_verify"):
        repo = snapshots.ensure_readonly_repository(restore_es, cfg)
    version, production = client.server_version(restore_es), drill.preflight.elasticsearch.version
    drill.preflight.restore_cluster = ElasticsearchFacts(url, version, client.health_status(restore_es), repo)
    expect(drill, PHASE, RC_READS(), f">= {production}", version,
           ok=major_minor(version) >= major_minor(production),
           message=f"the restore cluster {url} runs Elasticsearch {version}, older than production's {production}: "
           "it cannot read snapshots of a newer version; upgrade it")  # fmt: skip
    return restore_es


def check_restore_room(cfg: DrillConfig, drill, es, restore_es) -> None:
    """The restore cluster has room for what this drill restores: the primaries of its restore
    share (elasticsearch.restore_share; all of elasticsearch.indices at "1/1") + 10 %. Called once
    the drill's number is known (the target's drill state): it picks the share."""
    pattern = cfg.elasticsearch.indices
    names = client.index_names(es, pattern)
    if (share := restore_share_choice(cfg, names, drill.preflight.sequence)) is None:
        wanted, what = pattern, f"the primaries of {pattern}"  # everything: the pattern, in one request
    else:
        wanted = share.restored
        what = f"the primaries of the {len(wanted)} of {len(names)} indices of its restore share {share.share}"
    need = round(1.1 * client.primary_bytes(es, wanted) / 2**20, 3)
    free = round(client.free_bytes(restore_es) / 2**20)
    expect(drill, PHASE, RC_ROOM(), f">= {need}", free, ok=free >= need,
           message=f"the restore cluster {cfg.restore_cluster.url} has {free} MB of disk available, the restore "
           f"needs {need} MB ({what} + 10 %): free space there")  # fmt: skip


def major_minor(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".")[:2] if part.isdigit())
