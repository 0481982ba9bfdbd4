"""Snapshots and restores, with every known gotcha a hard check: never the global state, never
partial; a snapshot must end SUCCESS with no failed shard; a restore never lands on an open index,
and creates only the names it was asked for."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import nullcontext

from elasticsearch import Elasticsearch
from elasticsearch import exceptions as es_errors

from drtests.config import DrillConfig
from drtests.errors import DrillError, WaitTimeout
from drtests.es.client import existing_indices, expressions
from drtests.es.recovered import RecoveryWatch
from drtests.es_errors import reason
from drtests.record.results import RestoredTelemetry, Snapshot
from drtests.waiting import wait_until


def ensure_repository(es: Elasticsearch, cfg: DrillConfig) -> dict:
    """Register the fs repository when a location is configured and no repository has that name;
    then it must exist and verify. A repository registered elsewhere is never re-pointed: the
    nightly snapshots of production may write to it. (_verify proves the nodes reach the
    repository, not that a snapshot in it is readable.)"""
    repo, location = cfg.elasticsearch.repository, cfg.elasticsearch.repository_location
    settings = registered(es, repo)
    if settings is None and location:
        register(es, repo, {"type": "fs", "settings": {"location": location}}, f"cannot register snapshot "
                 f"repository {repo!r} at {location}", "(the location must be under the node's path.repo)")  # fmt: skip
        settings = registered(es, repo)
    if settings is None:
        raise DrillError(
            f"snapshot repository {repo!r} is not registered: register it or set elasticsearch.repository_location"
        )
    where = settings.get("settings", {}).get("location")
    if location and (settings.get("type") != "fs" or where != location):
        raise DrillError(
            f"snapshot repository {repo!r} is already registered ({settings.get('type')} at {where}), not at "
            f"{location}: drtests never repoints a repository. Name another repository, or set "
            'elasticsearch.repository_location = "" to use it as registered'
        )
    return verified_repository(es, repo, settings)


def registered(es: Elasticsearch, repo: str) -> dict | None:
    """The repository's registration (type, settings), None when no repository has that name."""
    try:
        return es.snapshot.get_repository(repository=repo)[repo]
    except es_errors.NotFoundError:
        return None


def register(es: Elasticsearch, repo: str, body: dict, refused: str, hint: str) -> None:
    """PUT _snapshot/<repo>; when Elasticsearch refuses it (its verification failed), the
    registration it may have kept anyway is removed, and only that one (the name, at this very
    location: another's registered meanwhile is left alone): drtests leaves no broken repository."""
    try:
        es.snapshot.create_repository(repository=repo, body=body)
    except es_errors.TransportError as exc:
        kept = registered(es, repo)
        if kept is not None and kept.get("settings", {}).get("location") == body["settings"]["location"]:
            try:
                es.snapshot.delete_repository(repository=repo)
            except es_errors.TransportError:
                pass  # gone meanwhile
        raise DrillError(f"{refused}: {reason(exc)} {hint}") from None


def verified_repository(es: Elasticsearch, repo: str, settings: dict, where: str = "") -> dict:
    """POST _snapshot/<repo>/_verify, and the repository as the evidence describes it."""
    try:
        nodes = es.snapshot.verify_repository(repository=repo)["nodes"]
    except es_errors.TransportError as exc:
        raise DrillError(f"snapshot repository {repo!r} failed _verify{where}: {reason(exc)}") from None
    return {
        "repository": repo,
        "type": settings.get("type"),
        "settings": settings.get("settings", {}),
        "verified_nodes": sorted(n["name"] for n in nodes.values()),
    }


def ensure_readonly_repository(es: Elasticsearch, cfg: DrillConfig) -> dict:
    """The restore cluster's view of the snapshot repository: registered read-only (registered
    here when elasticsearch.repository_location is set), refused when it is writable there."""
    repo, location, url = cfg.elasticsearch.repository, cfg.elasticsearch.repository_location, cfg.restore_cluster.url
    settings = registered(es, repo)
    if settings is None:
        if not location:
            missing = (f"snapshot repository {repo!r} is not registered on the restore cluster {url}: register it "
                       'there read-only ("readonly": true), or set elasticsearch.repository_location')  # fmt: skip
            raise DrillError(missing)
        body = {"type": "fs", "settings": {"location": location, "readonly": True}}
        register(es, repo, body, f"cannot register snapshot repository {repo!r} read-only on the restore cluster "
                 f"{url} at {location}", "(the location must be under its path.repo)")  # fmt: skip
        settings = registered(es, repo) or {}
    if str(settings.get("settings", {}).get("readonly", "false")).lower() != "true":
        raise DrillError(f"snapshot repository {repo!r} is registered writable on the restore cluster {url}: two "
                         "clusters writing one repository corrupt it. Register it there read-only: PUT "
                         f"_snapshot/{repo} with settings.readonly = true")  # fmt: skip
    return verified_repository(es, repo, settings, f" on the restore cluster {url}")


MADE_BY = "drtests_drill"  # the snapshot's own metadata: which drill of which target made it


def create_snapshot(es: Elasticsearch, cfg: DrillConfig, name: str, drill_id: str = "") -> Snapshot:
    """Snapshot the configured indices and require SUCCESS with no failed shard. The snapshot's
    metadata names the drill and the target that made it: the cluster's own record, which retention
    requires before it deletes a snapshot."""
    repo = cfg.elasticsearch.repository
    try:
        snap = es.snapshot.create(
            repository=repo,
            snapshot=name,
            wait_for_completion=True,
            request_timeout=cfg.elasticsearch.timeout,
            body={
                "indices": cfg.elasticsearch.indices,
                "include_global_state": False,
                "partial": False,
                "ignore_unavailable": False,
                "metadata": {MADE_BY: drill_id, "drtests_target": cfg.target_name},
            },
        )["snapshot"]
    except es_errors.ConnectionTimeout:
        raise WaitTimeout(f"snapshot {repo}/{name} did not complete within {cfg.elasticsearch.timeout:g}s") from None
    except es_errors.TransportError as exc:
        raise DrillError(f"snapshot {repo}/{name} failed: {reason(exc)}") from None
    return Snapshot(
        repository=repo,
        snapshot=snap["snapshot"],
        uuid=snap.get("uuid"),
        state=snap["state"],
        indices=sorted(snap["indices"]),
        include_global_state=snap["include_global_state"],
        shards=snap["shards"],
        failures=snap.get("failures", []),
        start_time=snap.get("start_time"),
        end_time=snap.get("end_time"),
        duration_ms=snap.get("duration_in_millis"),
    )


def made_by(es: Elasticsearch, repository: str, name: str) -> tuple[str, str] | None:
    """(drill, target) the snapshot's own metadata names; None when it names none or is gone."""
    found = es.snapshot.get(repository=repository, snapshot=name, ignore=[404])
    metadata = ((found.get("snapshots") or [{}])[0].get("metadata") or {}) if isinstance(found, dict) else {}
    return (metadata[MADE_BY], metadata.get("drtests_target", "")) if metadata.get(MADE_BY) else None


def delete_snapshot(es: Elasticsearch, repository: str, name: str) -> bool:
    """Delete a snapshot (one still running is aborted first, by Elasticsearch); False when it
    did not exist."""
    result = es.snapshot.delete(repository=repository, snapshot=name, ignore=[404], request_timeout=600)
    return not (isinstance(result, dict) and result.get("status") == 404)


def java_replacement(replacement: str) -> str:
    """Java's $1 in rename_replacement becomes Python's \\g<1>."""
    return re.sub(r"\$(\d+)", r"\\g<\1>", replacement.replace("\\", "\\\\"))


def renamed(cfg: DrillConfig, names: list[str]) -> dict[str, str]:
    """original -> restored name, as ES will compute it from rename_pattern/replacement."""
    pattern = re.compile(cfg.elasticsearch.rename_pattern)
    replacement = java_replacement(cfg.elasticsearch.rename_replacement)
    return {name: pattern.sub(replacement, name) for name in names}


def restored_names(cfg: DrillConfig, originals: list[str], elsewhere: bool) -> dict[str, str]:
    """original -> the name its restored copy gets: renamed, or (replace mode, a restore cluster)
    the original name."""
    if elsewhere or cfg.elasticsearch.restore != "rename":
        return {name: name for name in originals}
    return renamed(cfg, originals)


INERT_SETTINGS = ["index.lifecycle.name", "index.lifecycle.rollover_alias"]


def restore_snapshot(
    es: Elasticsearch,
    cfg: DrillConfig,
    snapshot: Snapshot,
    say: Callable[[str], None],
    before_restore: Callable[[list[str]], None] = lambda names: None,
    elsewhere: bool = False,
    refused: Callable[[list[str]], None] = lambda names: None,
    indices: list[str] | None = None,
    ready: Callable[[str], None] | None = None,
) -> RestoredTelemetry:
    """Restore every index of the snapshot (or `indices` of it), renamed (default) or over deleted originals
    (replace), or (`elsewhere`: `es` is the restore cluster) under the original names, which no
    index there may hold yet. Never partial, never the global state; then wait for yellow.
    `before_restore` gets the names the restore will create, once it is sure none exists yet
    (the caller registers their removal there: never of an index the drill did not create);
    `refused` gets them when Elasticsearch refuses the restore request (then it created none of
    them: a name another writer took meanwhile is theirs). `ready` gets each restored index's
    name as soon as its primaries started, while the restore goes on (the checks on it start then),
    and the rest once the restore ended well."""
    es_cfg = cfg.elasticsearch
    originals = snapshot.indices if indices is None else indices  # indices: this drill's restore share
    body: dict = {
        "indices": ",".join(originals),
        "include_global_state": False,
        "partial": False,
        "index_settings": {"index.number_of_replicas": 0},
    }
    if es_cfg.restore == "rename" or elsewhere:
        mapping = restored_names(cfg, originals, elsewhere)
        if not elsewhere:
            body |= {"rename_pattern": es_cfg.rename_pattern, "rename_replacement": es_cfg.rename_replacement}
        # Invisible to production: the copies join none of the live indices' aliases (a read
        # through an alias would count them twice), and no lifecycle policy acts on them.
        body |= {"include_aliases": False, "ignore_index_settings": INERT_SETTINGS}
        existing = existing_indices(es, mapping.values())
        if existing:
            name = sorted(existing)[0]
            where = f" on the restore cluster {cfg.restore_cluster.url}" if elsewhere else ""
            fix = "" if elsewhere else ", or change elasticsearch.rename_replacement"
            raise DrillError(
                f"restore target index {name} already exists{where}: a restore would fail on it (open) or overwrite it "
                f"(closed). Delete it if it is a leftover of an earlier drill (a drill run with --recover does){fix}"
            )
        before_restore(sorted(mapping.values()))
    else:
        mapping = restored_names(cfg, originals, elsewhere)
        for name in originals:
            say(f"replace mode: deleting index {name}")
            es.indices.delete(index=name, ignore_unavailable=True)
        wait_until(
            lambda: not existing_indices(es, originals),
            es_cfg.timeout,
            f"timed out after {es_cfg.timeout:g}s waiting for indices {', '.join(originals)} to be gone (404)",
            interval=0.2,
        )
    repo, snap = snapshot.repository, snapshot.snapshot
    targets = list(mapping.values())
    watch = RecoveryWatch(es, targets, ready) if ready is not None else None
    with watch or nullcontext():
        result = _restore(es, es_cfg, repo, snap, body, mapping, refused)
        if result["shards"]["failed"]:
            raise DrillError(f"restore of snapshot {repo}/{snap}: {result['shards']['failed']} of "
                             f"{result['shards']['total']} shards failed: {failed_shards(es, targets)}")  # fmt: skip
        statuses = [_yellow(es, es_cfg, part, repo, snap, targets) for part in expressions(targets)]
        if watch is not None:
            watch.finish()
    health = "yellow" if "yellow" in statuses else "green"
    return RestoredTelemetry("restore cluster" if elsewhere else es_cfg.restore, mapping, result["shards"], health)


def _restore(es: Elasticsearch, es_cfg, repo: str, snap: str, body: dict, mapping: dict[str, str],
             refused: Callable[[list[str]], None]) -> dict:  # fmt: skip
    """The restore request, waiting for its completion: its "snapshot" part (shards total, failed)."""
    try:
        return es.snapshot.restore(
            repository=repo, snapshot=snap, body=body, wait_for_completion=True, request_timeout=es_cfg.timeout
        )["snapshot"]
    except es_errors.ConnectionTimeout:
        raise WaitTimeout(f"restore of snapshot {repo}/{snap} did not complete within {es_cfg.timeout:g}s") from None
    except es_errors.TransportError as exc:
        refused(sorted(mapping.values()))
        raise DrillError(f"restore of snapshot {repo}/{snap} failed: {reason(exc)}") from None


def _yellow(es: Elasticsearch, es_cfg, part: str, repo: str, snap: str, targets: list[str]) -> str:
    """The restored indices of `part` at yellow at least (their status), else WaitTimeout."""
    try:
        return es.cluster.health(index=part, wait_for_status="yellow", timeout=f"{int(es_cfg.timeout)}s",
                                 request_timeout=es_cfg.timeout + 10)["status"]  # fmt: skip
    except es_errors.TransportError as exc:
        if exc.status_code != 408:  # 408: the wait for yellow timed out
            raise
        raise WaitTimeout(f"indices restored from {repo}/{snap} did not reach yellow within "
                          f"{es_cfg.timeout:g}s: {failed_shards(es, targets)}") from None  # fmt: skip


def index_sizes(es: Elasticsearch, repository: str, snapshot: str) -> dict[str, int]:
    """Bytes each index of the snapshot holds in the repository (the snapshot status API): what
    a restore of it reads."""
    status = es.snapshot.status(repository=repository, snapshot=snapshot)["snapshots"][0]
    return {name: int(index["stats"]["total"]["size_in_bytes"]) for name, index in status["indices"].items()}


def failed_shards(es: Elasticsearch, indices: list[str]) -> str:
    """Which primaries are unassigned, and why (ES's own words, shortened)."""
    columns = "index,shard,prirep,state,unassigned.details"
    rows = [row for part in expressions(indices) for row in es.cat.shards(index=part, h=columns, format="json")]
    bad = [r for r in rows if r["prirep"] == "p" and r["state"] != "STARTED"]
    if not bad:
        return "no primary shard is unassigned"
    first = bad[0]
    cause = (first.get("unassigned.details") or "").split("nested: ")[-1].strip(" ;")
    return f"{len(bad)} primaries not started, e.g. {first['index']}[{first['shard']}] {first['state']}: {cause[:300]}"
