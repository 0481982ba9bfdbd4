"""The graph proof: the same ids, the same content and whole relations, per type, between what a
drill read before the backup and what the restored node serves. Pure: listings in, findings out.

A node newer than the proof's threshold (the restore's "changes till" watermark, or the newest
change the before-read saw when that is older) was written after what the backup can hold: it is
listed and counted, never compared, so a live installation that syncs again once started never
fails a drill, and a restore that brought back another graph always does.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import zlib
from dataclasses import dataclass, field

FIRST = 10  # how many ids a finding names
UNREADABLE = "not readable by the probe"
MS = 1_000_000  # nanoseconds in a millisecond (StackState's lastUpdateTimestamp is in ms)


Ends = tuple[str | None, str | None]  # a relation's source and target


@dataclass
class Listing:
    """One type as a probe read it: every id; with content, when each node changed (ns), the
    content of the nodes this drill compares (as the API shows them, the timestamp taken out) and
    every relation's ends. Only the compared nodes are kept whole: the rest is an id and a time."""

    ids: set[str]
    stamps: dict[str, int] | None = None  # None: the probe reads ids only
    kept: dict[str, dict] | None = None
    ends: dict[str, Ends] = field(default_factory=dict)
    how: str = ""  # how the kept nodes were chosen, in words


def listing_of(raw_nodes, keep: Choice | set[str] | None = None) -> Listing:
    """A listing from an API answer (one pass: any iterable of nodes): content when its nodes
    carry more than id and _type. `keep`: which nodes to keep whole, a Choice (the before side:
    it picks them) or the ids the before side kept (the after side); None: every node."""
    by_id: dict[str, dict] = {}
    stamps: dict[str, int] = {}
    ends: dict[str, Ends] = {}
    for raw in raw_nodes:
        if not isinstance(raw, dict) or "id" not in raw:
            continue
        node_id = str(raw["id"])
        stamp = raw.pop("lastUpdateTimestamp", None)
        if isinstance(stamp, int | float):
            stamps[node_id] = int(stamp) * MS
        if "source" in raw or "target" in raw:
            ends[node_id] = (text_or_none(raw.get("source")), text_or_none(raw.get("target")))
        by_id[node_id] = raw
    if not any(not raw.keys() <= {"id", "_type"} for raw in by_id.values()):
        return Listing(set(by_id))
    if isinstance(keep, Choice):
        wanted, how = keep.chosen(list(by_id))
    else:
        wanted, how = (set(by_id) if keep is None else keep), ""
    return Listing(set(by_id), stamps, {i: by_id[i] for i in wanted if i in by_id}, ends, how)


def text_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def ids_sha256(ids: set[str]) -> str:
    """sha256 of the ids sorted as strings, one a line (sha256sum of `sort` of the listing)."""
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()


def id_order(node_id: str) -> tuple:
    return (0, int(node_id), "") if node_id.lstrip("-").isdigit() else (1, 0, node_id)


def first_ids(ids: set[str]) -> list[str]:
    """The first FIRST of `ids` in reading order, without sorting them all."""
    return heapq.nsmallest(FIRST, ids, key=id_order)


CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


def content_digest(kept: dict[str, dict], ids: set[str]) -> str:
    """sha256 of the nodes `ids` (id, then every field but the timestamp, keys sorted), in id
    order: one encoder call over them all."""
    return hashlib.sha256(CANONICAL.encode([[i, kept[i]] for i in sorted(ids)]).encode()).hexdigest()


@dataclass(frozen=True)
class Choice:
    """Which nodes a drill compares field by field: a sample per type chosen from the drill's id
    (different drills see different nodes) and every node whose id falls in this drill's n of t
    slots of the rotation (every node within ceil(t/n) drills)."""

    drill_id: str
    sample: int
    share: tuple[int, int] | None  # (n, t); None: the sample only
    sequence: int

    def slots(self) -> set[int]:
        if self.share is None:
            return set()
        n, t = self.share
        return {(self.sequence * n + k) % t for k in range(n)}

    def chosen(self, ids: list[str]) -> tuple[set[str], str]:
        """(the ids compared, in words: "every node" / "n of t slots + a sample of k")."""
        slots, share = self.slots(), self.share
        if share and len(slots) == share[1]:
            return set(ids), "every node"
        in_slots = {i for i in ids if slot_of(i, share[1]) in slots} if share else set()
        rest = [i for i in ids if i not in in_slots]
        salt = zlib.crc32(self.drill_id.encode())
        sample = heapq.nsmallest(self.sample, rest, key=lambda i: zlib.crc32(i.encode(), salt))
        chosen = in_slots | set(sample)
        if len(chosen) == len(ids):
            return chosen, "every node"
        how = f"{share[0]}/{share[1]} of the ids (rotating) and a sample of {len(sample)}" if share else ""
        return chosen, how or f"a sample of {len(sample)}"


def slot_of(node_id: str, t: int) -> int:
    """The rotation's slot of a node: stable by id (crc32: 100,000 ids in milliseconds)."""
    return zlib.crc32(node_id.encode()) % t


@dataclass
class TypeProof:
    """One type's findings; `differing` and the id lists hold the first FIRST of each."""

    node_type: str
    ids_before_sha256: str
    ids_after_sha256: str
    missing_n: int = 0
    missing: list[str] = field(default_factory=list)
    new_n: int = 0
    new: list[str] = field(default_factory=list)
    written_after_n: int = 0  # after the threshold: listed, not compared
    written_after: list[str] = field(default_factory=list)
    gone_since_backup_n: int = 0  # existing backups: restored ids the live graph no longer holds
    content: str = "compared"  # or why not: UNREADABLE, or "not comparable: ..."
    compared_n: int = 0
    compared_how: str = ""
    differing_n: int = 0
    differing: list[dict] = field(default_factory=list)  # {"id", "fields"}
    content_before: str = ""  # digest over the compared nodes, each side
    content_after: str = ""

    @property
    def same_ids(self) -> bool:
        return self.missing_n == 0 and self.new_n == 0


def prove_type(
    node_type: str, before: Listing, after: Listing, threshold_ns: int | None, live_before: bool
) -> TypeProof:
    """Compare one type. `live_before`: the before side is the live graph read after the backup was
    made (an existing backup), so restored ids it no longer holds were deleted since: counted, not failed."""
    proof = TypeProof(node_type, ids_sha256(before.ids), ids_sha256(after.ids))
    newer = newer_than(after, threshold_ns)
    before_newer = newer_than(before, threshold_ns) if live_before else set()
    missing = before.ids - after.ids - before_newer
    new_ids = after.ids - before.ids - newer
    gone = new_ids if live_before else set()
    new = new_ids - gone
    proof.missing_n, proof.missing = len(missing), first_ids(missing)
    proof.new_n, proof.new = len(new), first_ids(new)
    proof.gone_since_backup_n = len(gone)
    written_after = newer | before_newer
    proof.written_after_n, proof.written_after = len(written_after), first_ids(written_after)
    if before.kept is None or after.kept is None:
        proof.content = UNREADABLE
        return proof
    common = before.ids & after.ids
    rewritten = len(common & written_after)
    # a restore that stamps what it writes anew hides nothing here: nothing left to compare, or most
    # of a type (beyond the few nodes a node's own syncs touch once it is started) newer than the watermark
    if common and (rewritten == len(common) or (rewritten > FIRST and rewritten * 2 > len(common))):
        proof.content = (f"not comparable: {rewritten} of the {len(common)} nodes both sides hold were written "
                         "after the watermark (the restore, or the node since, rewrote most of them)")  # fmt: skip
        return proof
    chosen = (before.kept.keys() & after.kept.keys()) - written_after
    differing = {i: fields for i in chosen if (fields := differing_fields(before.kept[i], after.kept[i]))}
    proof.compared_n, proof.differing_n = len(chosen), len(differing)
    proof.compared_how = "every node" if len(chosen) == len(common - written_after) else before.how
    proof.differing = [{"id": i, "fields": differing[i]} for i in first_ids(set(differing))]
    proof.content_before = content_digest(before.kept, chosen)
    # equal nodes encode alike: the after side is encoded only when some node differs
    proof.content_after = content_digest(after.kept, chosen) if differing else proof.content_before
    return proof


def newer_than(listing: Listing, threshold_ns: int | None) -> set[str]:
    """The nodes written after what the backup can hold (an unknown threshold: none)."""
    if threshold_ns is None or not listing.stamps:
        return set()
    return {i for i, stamp in listing.stamps.items() if stamp > threshold_ns}


FIELDS = ("name", "source", "target")


def differing_fields(before: dict, after: dict) -> list[str]:
    """The fields that differ: name, source, target, and "data" for any other."""
    if before == after:
        return []
    found = [f for f in FIELDS if before.get(f) != after.get(f)]
    rest = [{k: v for k, v in node.items() if k not in FIELDS} for node in (before, after)]
    return found + (["data"] if rest[0] != rest[1] else [])


@dataclass
class RelationsProof:
    """Every restored relation (up to the threshold) ends at nodes the restored graph holds."""

    checked_n: int = 0
    dangling_n: int = 0
    dangling: list[dict] = field(default_factory=list)  # {"id", "source", "target", "missing"}
    readable: bool = True


def prove_relations(relations: Listing | None, after: dict[str, Listing], threshold_ns: int | None) -> RelationsProof:
    proof = RelationsProof()
    if relations is None or relations.kept is None or (relations.ids and not relations.ends):
        proof.readable = False
        return proof
    every_id = set().union(*(listing.ids for listing in after.values()))
    newer = newer_than(relations, threshold_ns)
    dangling: dict[str, list[str]] = {}
    for node_id in relations.ids - newer:
        source, target = relations.ends.get(node_id, (None, None))
        proof.checked_n += 1
        if source in every_id and target in every_id:
            continue
        dangling[node_id] = [end for end in (source, target) if end is not None and end not in every_id]
    proof.dangling_n = len(dangling)
    for node_id in first_ids(set(dangling)):
        source, target = relations.ends.get(node_id, (None, None))
        proof.dangling.append({"id": node_id, "source": source, "target": target, "missing": dangling[node_id]})
    return proof


def threshold_of(watermark_ns: int | None, before: dict[str, Listing], live_before: bool) -> int | None:
    """Nodes newer than this are not compared: the restore's watermark, or, when the before side
    was read before the backup, the newest change it saw if older (a node changed between that read
    and the backup comes back newer than its before-read self)."""
    if live_before:
        return watermark_ns
    newest = max((max(listing.stamps.values()) for listing in before.values() if listing.stamps), default=None)
    if watermark_ns is None or newest is None:
        return watermark_ns if newest is None else newest
    return min(watermark_ns, newest)
