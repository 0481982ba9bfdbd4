"""Preflight's checks of the restore cluster (restore_cluster.url): it answers, reads the snapshot
repository read-only, can read production's snapshots and has room for them."""

from __future__ import annotations

from drtests.config import DrillConfig
from drtests.errors import Unreachable
from drtests.es import client, snapshots
from drtests.record.results import ElasticsearchFacts
from drtests.steps import check, expect, step

PHASE = "preflight"
RC_REACHABLE = check("restore cluster reachable")
RC_REPOSITORY = step("restore cluster repository {repository}")
RC_READS = check("restore cluster reads the snapshots")
RC_ROOM = check("restore cluster has room (MB)")


def check_restore_cluster(cfg: DrillConfig, drill, es, request):
    """The restore cluster answers, reads the repository read-only, can read production's
    snapshots and has room for them; returns its client."""
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
    need = round(1.1 * client.primary_bytes(es, cfg.elasticsearch.indices) / 2**20)
    free = round(client.free_bytes(restore_es) / 2**20)
    expect(drill, PHASE, RC_ROOM(), f">= {need}", free, ok=free >= need,
           message=f"the restore cluster {url} has {free} MB of disk available, the restore needs {need} MB (the "
           f"primaries of {cfg.elasticsearch.indices} + 10 %): free space there")  # fmt: skip
    return restore_es


def major_minor(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".")[:2] if part.isdigit())
