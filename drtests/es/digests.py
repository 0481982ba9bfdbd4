"""What proves the restored documents are the ones backed up: sampled fingerprints per index
and, for full verification, an order-independent digest of every document."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import orjson
from elasticsearch import Elasticsearch

from drtests.errors import DrillError
from drtests.es_errors import es_errors, reason

DIGEST_MODULUS = 2**256
CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"))  # built once: json.dumps builds one a call


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
            add_sample(digest, name, response)
        result[name] = digest.hexdigest()
    return result


def add_sample(digest, name: str, response: dict) -> int:
    """One sampled search into a fingerprint: its total, then each hit's id and canonical source;
    returns the total."""
    if "error" in response:  # its root cause names what failed ("all shards failed" does not)
        error = response["error"]
        cause = (error.get("root_cause") or [{}])[0].get("reason") or error.get("reason", error)
        raise DrillError(f"fingerprint of index {name} failed: {cause}")
    total = response["hits"]["total"]["value"]
    digest.update(str(total).encode())
    for hit in response["hits"]["hits"]:
        digest.update(hit["_id"].encode() + b"\0" + json.dumps(hit["_source"], sort_keys=True).encode() + b"\n")
    return total


def newest_seq_nos(es: Elasticsearch, name: str) -> dict[int, int]:
    """Per shard of the index, its highest _seq_no (write order; a restored copy keeps them):
    where a snapshot's copy of an index still written ends. Shards without documents are left out."""
    shards = int(es.indices.get_settings(index=name)[name]["settings"]["index"]["number_of_shards"])
    newest = {"size": 1, "_source": False, "sort": [{"_seq_no": {"order": "desc", "unmapped_type": "long"}}]}
    body: list[dict] = []
    for shard in range(shards):
        body += [{"index": name, "preference": f"_shards:{shard}"}, newest]
    found = {}
    for shard, response in enumerate(es.msearch(body=body)["responses"]):
        if "error" in response:
            raise DrillError(f"the newest document of index {name} cannot be read: {response['error'].get('reason')}")
        if hits := response["hits"]["hits"]:
            found[shard] = int(hits[0]["sort"][0])
    return found


def fingerprint_upto(es: Elasticsearch, name: str, upto: dict[int, int], sample: int) -> tuple[int, str]:
    """(documents, sha256) of the index's documents written up to `upto` (per shard, the highest
    _seq_no included): the first and last `sample` of each shard in write order, and the count.
    On a live index still written, the part a snapshot held; on its restored copy, all of it."""
    body: list[dict] = []
    for shard, highest in sorted(upto.items()):
        query = {"range": {"_seq_no": {"lte": highest}}}
        for order in ("asc", "desc"):
            search = {"size": sample, "query": query, "sort": [{"_seq_no": order}], "track_total_hits": True}
            body += [{"index": name, "preference": f"_shards:{shard}"}, search]
    digest, docs = hashlib.sha256(), 0
    for n, response in enumerate(es.msearch(body=body)["responses"] if body else []):
        total = add_sample(digest, name, response)
        docs += total if n % 2 == 0 else 0  # asc and desc of one shard count the same documents
    return docs, digest.hexdigest()


FULL_PAGE = 2000  # documents per search_after page of a full digest
PAGE_KEEP_ALIVE = "5m"  # a point in time read page after page: each page extends it
VIEW_KEEP_ALIVE = "10m"  # a point in time waiting to be read; kept alive every TOUCH_VIEWS_S
TOUCH_VIEWS_S = 60.0


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
    pit = es.open_point_in_time(index=name, keep_alive=PAGE_KEEP_ALIVE)["id"]
    try:
        return digest_of_view(es, pit, slices)
    finally:
        es.close_point_in_time(body={"id": pit}, ignore=404)


def digest_of_view(es: Elasticsearch, pit: str, slices: int, check: Callable[[], None] = lambda: None) -> dict:
    """{"docs", "digest"} of every document a point in time holds; `check` is called before each
    page (a reader that was stopped raises there)."""
    with ThreadPoolExecutor(slices) as pool:
        parts = list(pool.map(lambda part: _digest_slice(es, pit, part, slices, check), range(slices)))
    return {"docs": sum(n for n, _ in parts), "digest": f"{sum(d for _, d in parts) % DIGEST_MODULUS:064x}"}


def _digest_slice(es: Elasticsearch, pit: str, part: int, slices: int, check: Callable[[], None]) -> tuple[int, int]:
    body: dict = {"size": FULL_PAGE, "pit": {"id": pit, "keep_alive": PAGE_KEEP_ALIVE},
                  "sort": [{"_shard_doc": "asc"}], "track_total_hits": False}  # fmt: skip
    if slices > 1:
        body["slice"] = {"id": part, "max": slices}
    count = total = 0
    while True:
        check()
        hits = es.search(**body, filter_path="hits.hits._id,hits.hits._source,hits.hits.sort")
        page = hits.get("hits", {}).get("hits", [])
        if not page:
            return count, total
        for hit in page:
            total += doc_hash(hit["_id"], hit["_source"])
        count += len(page)
        total %= DIGEST_MODULUS
        body["search_after"] = page[-1]["sort"]


def open_views(es: Elasticsearch, names: list[str]) -> dict[str, str]:
    """A point in time per index: the index as it is now, to be read later (while it is written
    again). Opened while the node is stopped, they hold the moment of the snapshot; each lives
    VIEW_KEEP_ALIVE unless read or kept alive, so a reader that died leaves nothing for long."""
    views: dict[str, str] = {}
    try:
        for name in names:
            views[name] = es.open_point_in_time(index=name, keep_alive=VIEW_KEEP_ALIVE)["id"]
    except BaseException:
        close_views(es, views)
        raise
    return views


def close_views(es: Elasticsearch, views: dict[str, str]) -> None:
    for pit in views.values():
        es.close_point_in_time(body={"id": pit}, ignore=404)


def digests_of_views(es: Elasticsearch, views: dict[str, str], slices: int,
                     check: Callable[[], None] = lambda: None) -> dict[str, dict]:  # fmt: skip
    """The full digest of each view, index after index, each view closed once read; those still
    waiting are kept alive (a size-0 search each) every TOUCH_VIEWS_S, between two pages; all are
    closed however it ends."""
    waiting, result, touched = dict(views), {}, time.monotonic()

    def between_pages() -> None:
        nonlocal touched
        check()
        if time.monotonic() - touched > TOUCH_VIEWS_S:
            for pit in waiting.values():
                es.search(pit={"id": pit, "keep_alive": VIEW_KEEP_ALIVE}, size=0, track_total_hits=False)
            touched = time.monotonic()

    try:
        for name, pit in views.items():
            try:
                result[name] = digest_of_view(es, pit, slices, between_pages)
            except es_errors.TransportError as exc:
                raise DrillError(f"the full digest at snapshot time of index {name} could not be read: "
                                 f"{reason(exc)} (its point in time, opened before the snapshot, is gone: the index "
                                 "was deleted or closed since, or Elasticsearch restarted)") from None  # fmt: skip
            es.close_point_in_time(body={"id": waiting.pop(name)}, ignore=404)
    finally:
        close_views(es, waiting)
    return result


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
