"""The drill's Elasticsearch clusters: the client (credentials from the environment), health,
room, index names and document counts in O(1) requests."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable
from datetime import datetime

from elasticsearch import Elasticsearch, Transport
from elasticsearch import exceptions as es_errors

from drtests.config import DrillConfig
from drtests.errors import DrillError, Unreachable
from drtests.es_errors import cause

BUSY_RETRY_S = 60.0  # how long a request Elasticsearch answers 429 ("later") is tried again


class PatientTransport(Transport):
    """Tries a request again, backing off, while Elasticsearch answers 429: a circuit breaker
    tripped (heap not yet collected) or a full queue, its own word for "later", and a request it
    refused was not carried out, so sending it again is safe. Without this, a transient 429 in a
    safety step left 200 restored copies in production's cluster (seen in the bench)."""

    def perform_request(self, method, url, headers=None, params=None, body=None):
        deadline, delay = time.monotonic() + BUSY_RETRY_S, 0.25
        while True:
            try:
                return super().perform_request(method, url, headers=headers, params=params, body=body)
            except es_errors.TransportError as exc:
                if exc.status_code != 429 or time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay)
            delay = min(2 * delay, 5.0)


def connect(cfg: DrillConfig, section: str = "elasticsearch") -> Elasticsearch:
    """A client with credentials from the environment, checked with one info() call; `section`:
    the production cluster (elasticsearch) or the restore cluster (restore_cluster)."""
    es_cfg = getattr(cfg, section)
    kwargs: dict = {"timeout": 60, "transport_class": PatientTransport}  # timeout: per request unless a call says
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


def free_bytes(es: Elasticsearch) -> int:
    """Disk available to the cluster's data nodes (_cat/allocation)."""
    rows = es.cat.allocation(format="json", bytes="b")
    return sum(int(r["disk.avail"]) for r in rows if r.get("disk.avail") not in (None, ""))


def primary_bytes(es: Elasticsearch, indices: str | list[str]) -> int:
    """What the indices' primaries (a pattern, or names) hold on disk: what a restore of them needs."""
    total = 0
    for part in expressions(indices):
        rows = es.cat.indices(index=part, h="pri.store.size", bytes="b", format="json", expand_wildcards="open")
        total += sum(int(r["pri.store.size"] or 0) for r in rows)
    return total


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
    return counts_of(es, ready_to_count(es, indices))


def ready_to_count(es: Elasticsearch, indices: str | list[str]) -> dict[str, list[str]]:
    """{expression: its index names}, none red, each refreshed: a count read after this (beside
    a snapshot begun after it) sees every document the snapshot holds. Three requests a part."""
    return {part: _ready(es, part) for part in expressions(indices)}


def counts_of(es: Elasticsearch, ready: dict[str, list[str]]) -> dict[str, int]:
    """The doc counts of indices made ready_to_count: one size-0 search a part."""
    counts: dict[str, int] = {}
    for pattern, names in ready.items():
        counts |= _count(es, pattern, names) if names else {}
    return counts


def _ready(es: Elasticsearch, pattern: str) -> list[str]:
    names = index_names(es, pattern)
    if not names:
        return []
    health = es.cluster.health(index=pattern, level="indices", expand_wildcards="open")["indices"]
    red = sorted(name for name, state in health.items() if state["status"] == "red")
    if red:  # a refresh would wait for the missing primaries; a snapshot would fail or be PARTIAL
        more = f" and {len(red) - 1} more" if red[1:] else ""
        raise DrillError(f"index {red[0]} is red (a primary shard is unassigned){more}: its docs cannot be counted "
                         "or snapshotted; fix the cluster (GET _cluster/allocation/explain)")  # fmt: skip
    es.indices.refresh(index=pattern, allow_no_indices=True, ignore_unavailable=True)
    return names


def _count(es: Elasticsearch, pattern: str, names: list[str]) -> dict[str, int]:
    per_index = {"terms": {"field": "_index", "size": len(names) + 10}}
    result = es.search(index=pattern, size=0, track_total_hits=True, aggs={"per_index": per_index})
    counts = {name: 0 for name in names}
    for bucket in result["aggregations"]["per_index"]["buckets"]:
        counts[bucket["key"]] = bucket["doc_count"]
    return counts


def delete_indices(es: Elasticsearch, names: list[str]) -> None:
    for part in expressions(names):
        es.indices.delete(index=part, ignore_unavailable=True)
