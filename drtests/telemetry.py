"""The Elasticsearch side of a drill: repository, snapshot, restore, counts, fingerprints.

Every known restore gotcha is a hard check here: snapshots and restores never carry
the global state and are never partial; a snapshot must end SUCCESS with no failed shard; a
restore never lands on an open index; counts are taken after _refresh with _count semantics.
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import orjson
from elasticsearch import Elasticsearch
from elasticsearch import exceptions as es_errors

from drtests.config import DrillConfig
from drtests.errors import DrillError, Unreachable, WaitTimeout
from drtests.es_errors import cause, reason
from drtests.record.results import RestoredTelemetry, Snapshot
from drtests.waiting import wait_until


def connect(cfg: DrillConfig, section: str = "elasticsearch") -> Elasticsearch:
    """A client with credentials from the environment, checked with one info() call; `section`:
    the production cluster (elasticsearch) or the restore cluster (restore_cluster)."""
    es_cfg = getattr(cfg, section)
    kwargs: dict = {"timeout": 60}  # seconds per request unless a call says otherwise
    if api_key := cfg.secret("api_key_env", section):
        kwargs["api_key"] = api_key
    elif user := cfg.secret("username_env", section):
        kwargs["http_auth"] = (user, cfg.secret("password_env", section) or "")
    es = Elasticsearch(es_cfg.url, **kwargs)
    try:
        info = es.info()
    except es_errors.UnsupportedProductError:
        raise DrillError(f"{es_cfg.url} is not Elasticsearch: it answers, but not as Elasticsearch does "
                         "(the client's product check)") from None  # fmt: skip
    except es_errors.AuthenticationException:
        raise DrillError(f"Elasticsearch at {es_cfg.url} refused the credentials (HTTP 401): check the variables "
                         f"named by {section}.username_env/password_env/api_key_env") from None  # fmt: skip
    except es_errors.ConnectionError as exc:
        what = "Elasticsearch" if section == "elasticsearch" else "the restore cluster (restore_cluster.url)"
        raise Unreachable(f"{what} at {es_cfg.url} is unreachable: {cause(exc)}") from None
    except es_errors.TransportError as exc:
        raise DrillError(f"{es_cfg.url} is not Elasticsearch: GET / answered HTTP {exc.status_code}") from None
    if not str(info.get("version", {}).get("number", "")).startswith("7."):
        warnings.warn(
            f"Elasticsearch {info['version']['number']} is not 7.x; drtests is tested with 7.17", stacklevel=2
        )
    return es


def server_version(es: Elasticsearch) -> str:
    return es.info()["version"]["number"]


def health_status(es: Elasticsearch) -> str:
    return es.cluster.health()["status"]


def ensure_repository(es: Elasticsearch, cfg: DrillConfig) -> dict:
    """Register the fs repository when a location is configured; then it must exist and verify.
    (_verify proves the nodes reach the repository, not that a snapshot in it is readable.)"""
    repo, location = cfg.elasticsearch.repository, cfg.elasticsearch.repository_location
    if location:
        try:
            es.snapshot.create_repository(repository=repo, body={"type": "fs", "settings": {"location": location}})
        except es_errors.TransportError as exc:
            raise DrillError(
                f"cannot register snapshot repository {repo!r} at {location}: {reason(exc)} "
                "(the location must be under the node's path.repo)"
            ) from None
    try:
        settings = es.snapshot.get_repository(repository=repo)[repo]
    except es_errors.NotFoundError:
        raise DrillError(
            f"snapshot repository {repo!r} is not registered: register it or set elasticsearch.repository_location"
        ) from None
    return verified_repository(es, repo, settings)


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
    try:
        settings = es.snapshot.get_repository(repository=repo)[repo]
    except es_errors.NotFoundError:
        if not location:
            missing = (f"snapshot repository {repo!r} is not registered on the restore cluster {url}: register it "
                       'there read-only ("readonly": true), or set elasticsearch.repository_location')  # fmt: skip
            raise DrillError(missing) from None
        body = {"type": "fs", "settings": {"location": location, "readonly": True}}
        try:
            es.snapshot.create_repository(repository=repo, body=body)
        except es_errors.TransportError as exc:
            refused = (f"cannot register snapshot repository {repo!r} read-only on the restore cluster {url} at "
                       f"{location}: {reason(exc)} (the location must be under its path.repo)")  # fmt: skip
            raise DrillError(refused) from None
        settings = es.snapshot.get_repository(repository=repo)[repo]
    if str(settings.get("settings", {}).get("readonly", "false")).lower() != "true":
        raise DrillError(f"snapshot repository {repo!r} is registered writable on the restore cluster {url}: two "
                         "clusters writing one repository corrupt it. Register it there read-only: PUT "
                         f"_snapshot/{repo} with settings.readonly = true")  # fmt: skip
    return verified_repository(es, repo, settings, f" on the restore cluster {url}")


def free_bytes(es: Elasticsearch) -> int:
    """Disk available to the cluster's data nodes (_cat/allocation)."""
    rows = es.cat.allocation(format="json", bytes="b")
    return sum(int(r["disk.avail"]) for r in rows if r.get("disk.avail") not in (None, ""))


def primary_bytes(es: Elasticsearch, pattern: str) -> int:
    """What the indices' primaries hold on disk: what a restore of them needs."""
    rows = es.cat.indices(index=pattern, h="pri.store.size", bytes="b", format="json", expand_wildcards="open")
    return sum(int(r["pri.store.size"] or 0) for r in rows)


URL_BUDGET = 3000  # ES refuses request lines over 4 KB (http.max_initial_line_length): lists go in parts


def expressions(indices: str | Iterable[str]) -> list[str]:
    """An index pattern as is; a list of names as comma-joined parts that fit in a request line."""
    if isinstance(indices, str):
        return [indices]
    parts: list[str] = []
    for name in indices:
        if parts and len(parts[-1]) + len(name) + 1 <= URL_BUDGET:
            parts[-1] += f",{name}"
        else:
            parts.append(name)
    return parts


def cluster_uuid(es: Elasticsearch) -> str:
    """Which cluster a client reaches (its URL may change; the uuid does not)."""
    return es.info()["cluster_uuid"]


def existing_indices(es: Elasticsearch, names: Iterable[str]) -> list[str]:
    """Which of `names` exist, open or closed."""
    found: set[str] = set()
    for part in expressions(list(names)):
        found |= set(es.indices.get(index=part, ignore_unavailable=True, expand_wildcards="all"))
    return sorted(found)


def index_names(es: Elasticsearch, pattern: str) -> list[str]:
    found = es.indices.get(index=pattern, allow_no_indices=True, ignore_unavailable=True, expand_wildcards="open")
    return sorted(found)


def created_before(es: Elasticsearch, pattern: str, moment: str | None) -> list[str]:
    """Open indices matching `pattern` created before `moment` (ISO time, e.g. a snapshot's start):
    those a snapshot taken then must hold."""
    if not moment:
        return []
    limit_ms = datetime.fromisoformat(moment).timestamp() * 1000
    rows = es.cat.indices(index=pattern, h="index,creation.date", format="json", expand_wildcards="open")
    return sorted(r["index"] for r in rows if int(r["creation.date"]) < limit_ms)


def doc_counts(es: Elasticsearch, indices: str | list[str]) -> dict[str, int]:
    """Live doc counts per index, in four requests whatever the number of indices (per part of a
    long name list): list, health (no red index), _refresh, one size-0 search with a terms
    aggregation on _index."""
    counts: dict[str, int] = {}
    for part in expressions(indices):
        counts |= _doc_counts(es, part)
    return counts


def _doc_counts(es: Elasticsearch, pattern: str) -> dict[str, int]:
    names = index_names(es, pattern)
    if not names:
        return {}
    health = es.cluster.health(index=pattern, level="indices", expand_wildcards="open")["indices"]
    red = sorted(name for name, state in health.items() if state["status"] == "red")
    if red:  # a refresh would wait for the missing primaries; a snapshot would fail or be PARTIAL
        more = f" and {len(red) - 1} more" if red[1:] else ""
        raise DrillError(f"index {red[0]} is red (a primary shard is unassigned){more}: its docs cannot be counted "
                         "or snapshotted; fix the cluster (GET _cluster/allocation/explain)")  # fmt: skip
    es.indices.refresh(index=pattern, allow_no_indices=True, ignore_unavailable=True)
    per_index = {"terms": {"field": "_index", "size": len(names) + 10}}
    result = es.search(index=pattern, size=0, track_total_hits=True, aggs={"per_index": per_index})
    counts = {name: 0 for name in names}
    for bucket in result["aggregations"]["per_index"]["buckets"]:
        counts[bucket["key"]] = bucket["doc_count"]
    return counts


def fingerprints(es: Elasticsearch, names: list[str], sample: int) -> dict[str, str]:
    """Per index, sha256 over the first and last `sample` docs in write order (id + canonical
    source) plus the count: one _msearch request for all indices."""
    if not names:
        return {}
    body: list[dict] = []
    for name in names:
        for order in ("asc", "desc"):
            # by _seq_no (write order): doc values, no fielddata on _id (which trips the memory
            # breaker at scale); a restored copy keeps the seq_nos. unmapped_type: empty indices.
            sort = [{"_seq_no": {"order": order, "unmapped_type": "long"}}]
            body += [{"index": name}, {"size": sample, "sort": sort, "track_total_hits": True}]
    responses = es.msearch(body=body)["responses"]
    result = {}
    for i, name in enumerate(names):
        digest = hashlib.sha256()
        for response in responses[2 * i : 2 * i + 2]:
            if "error" in response:
                raise DrillError(
                    f"fingerprint of index {name} failed: {response['error'].get('reason', response['error'])}"
                )
            digest.update(str(response["hits"]["total"]["value"]).encode())
            for hit in response["hits"]["hits"]:
                digest.update(hit["_id"].encode() + b"\0" + json.dumps(hit["_source"], sort_keys=True).encode() + b"\n")
        result[name] = digest.hexdigest()
    return result


FULL_PAGE = 2000  # documents per search_after page of a full digest
DIGEST_MODULUS = 2**256
CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"))  # built once: json.dumps builds one a call


def canonical_json(source: dict) -> bytes:
    """A document's source with sorted keys: orjson (about 3x faster than the json module, which
    makes full verification as fast as a plain read), the json module for what orjson refuses
    (an integer beyond 64 bits)."""
    try:
        return orjson.dumps(source, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return CANONICAL.encode(source).encode()


def doc_hash(doc_id: str, source: dict) -> int:
    """One document's hash over its id and canonical source, as a number to add up."""
    return int.from_bytes(hashlib.sha256(doc_id.encode() + b"\0" + canonical_json(source)).digest(), "big")


def full_digests(es: Elasticsearch, names: list[str], slices: int = 2) -> dict[str, dict]:
    """Per index, every document hashed: {"docs": n, "digest": hex}. The digest is the sum of the
    per-document hashes modulo 2**256 (keyed by _id, so it does not depend on the order documents
    are read in, nor on how the index is split); read page by page with search_after on a point in
    time, `slices` slices at once; memory stays flat (one page per slice)."""
    return {name: full_digest(es, name, slices) for name in names}


def full_digest(es: Elasticsearch, name: str, slices: int) -> dict:
    pit = es.open_point_in_time(index=name, keep_alive="5m")["id"]
    try:
        with ThreadPoolExecutor(slices) as pool:
            parts = list(pool.map(lambda part: _digest_slice(es, pit, part, slices), range(slices)))
    finally:
        es.close_point_in_time(body={"id": pit}, ignore=404)
    return {"docs": sum(n for n, _ in parts), "digest": f"{sum(d for _, d in parts) % DIGEST_MODULUS:064x}"}


def _digest_slice(es: Elasticsearch, pit: str, part: int, slices: int) -> tuple[int, int]:
    body: dict = {"size": FULL_PAGE, "pit": {"id": pit, "keep_alive": "5m"}, "sort": [{"_shard_doc": "asc"}],
                  "track_total_hits": False}  # fmt: skip
    if slices > 1:
        body["slice"] = {"id": part, "max": slices}
    count = total = 0
    while True:
        hits = es.search(body=body, filter_path="hits.hits._id,hits.hits._source,hits.hits.sort")
        page = hits.get("hits", {}).get("hits", [])
        if not page:
            return count, total
        for hit in page:
            total += doc_hash(hit["_id"], hit["_source"])
        count += len(page)
        total %= DIGEST_MODULUS
        body["search_after"] = page[-1]["sort"]


def full_verify_share(spec: str) -> tuple[int, int] | None:
    """elasticsearch.full_verify "n/t" as (n, t); None when off."""
    if not spec or spec == "off":
        return None
    n, t = spec.split("/")
    return int(n), int(t)


def chosen_for_full_verify(names: list[str], spec: str, sequence: int) -> list[str]:
    """The indices this drill hashes in full: those whose name falls in this drill's n of t slots
    (stable by name; the slots move on with the drill's sequence number for its target), so every
    index is hashed in full once within ceil(t/n) consecutive drills."""
    share = full_verify_share(spec)
    if share is None:
        return []
    n, t = share
    slots = {(sequence * n + k) % t for k in range(n)}
    return [name for name in names if int(hashlib.sha256(name.encode()).hexdigest(), 16) % t in slots]


def create_snapshot(es: Elasticsearch, cfg: DrillConfig, name: str) -> Snapshot:
    """Snapshot the configured indices and require SUCCESS with no failed shard."""
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


INERT_SETTINGS = ["index.lifecycle.name", "index.lifecycle.rollover_alias"]


def restore_snapshot(
    es: Elasticsearch,
    cfg: DrillConfig,
    snapshot: Snapshot,
    say: Callable[[str], None],
    before_restore: Callable[[list[str]], None] = lambda names: None,
    elsewhere: bool = False,
) -> RestoredTelemetry:
    """Restore every index of the snapshot, renamed (default) or over deleted originals
    (replace), or (`elsewhere`: `es` is the restore cluster) under the original names, which no
    index there may hold yet. Never partial, never the global state; then wait for yellow.
    `before_restore` gets the names the restore will create, once it is sure none exists yet
    (the caller registers their removal there: never of an index the drill did not create)."""
    es_cfg = cfg.elasticsearch
    originals = snapshot.indices
    body: dict = {
        "indices": ",".join(originals),
        "include_global_state": False,
        "partial": False,
        "index_settings": {"index.number_of_replicas": 0},
    }
    if es_cfg.restore == "rename" or elsewhere:
        mapping = {name: name for name in originals} if elsewhere else renamed(cfg, originals)
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
        mapping = {name: name for name in originals}
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
    try:
        result = es.snapshot.restore(
            repository=repo, snapshot=snap, body=body, wait_for_completion=True, request_timeout=es_cfg.timeout
        )["snapshot"]
    except es_errors.ConnectionTimeout:
        raise WaitTimeout(f"restore of snapshot {repo}/{snap} did not complete within {es_cfg.timeout:g}s") from None
    except es_errors.TransportError as exc:
        raise DrillError(f"restore of snapshot {repo}/{snap} failed: {reason(exc)}") from None
    targets = list(mapping.values())
    if result["shards"]["failed"]:
        raise DrillError(f"restore of snapshot {repo}/{snap}: {result['shards']['failed']} of "
                         f"{result['shards']['total']} shards failed: {failed_shards(es, targets)}")  # fmt: skip
    statuses = []
    for part in expressions(targets):
        try:
            statuses.append(es.cluster.health(index=part, wait_for_status="yellow", timeout=f"{int(es_cfg.timeout)}s",
                                              request_timeout=es_cfg.timeout + 10)["status"])  # fmt: skip
        except es_errors.TransportError as exc:
            if exc.status_code != 408:  # 408: the wait for yellow timed out
                raise
            raise WaitTimeout(f"indices restored from {repo}/{snap} did not reach yellow within "
                              f"{es_cfg.timeout:g}s: {failed_shards(es, targets)}") from None  # fmt: skip
    health = "yellow" if "yellow" in statuses else "green"
    return RestoredTelemetry("restore cluster" if elsewhere else es_cfg.restore, mapping, result["shards"], health)


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


def delete_indices(es: Elasticsearch, names: list[str]) -> None:
    for part in expressions(names):
        es.indices.delete(index=part, ignore_unavailable=True)
