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
MS = 1_000_000  # nanoseconds in a millisecond (StackState's lastUpdateTimestamp is in ms)


@dataclass(frozen=True, slots=True)
class Node:
    """What the proof keeps of one node: when it changed, and short digests of its fields."""

    updated_ns: int | None
    name: str
    body: bytes  # digest of every other field, keys sorted
    source: str | None = None
    target: str | None = None


@dataclass
class Listing:
    """One type as a probe read it: every id, and each node's content when the probe reads it."""

    ids: set[str]
    nodes: dict[str, Node] | None = None  # None: the probe reads ids only


CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)  # built once: 100,000 nodes a read


def node_of(raw: dict) -> tuple[str, Node]:
    """(id, Node) of a node as a StackState API shows it (flat JSON: id, _type, name,
    lastUpdateTimestamp in ms, a relation's source and target among its other fields)."""
    stamp = raw.get("lastUpdateTimestamp")
    body = {k: v for k, v in raw.items() if k not in ("id", "name", "lastUpdateTimestamp")}
    source, target = raw.get("source"), raw.get("target")
    return str(raw["id"]), Node(
        int(stamp) * MS if isinstance(stamp, int | float) else None,
        str(raw.get("name")),
        hashlib.blake2b(CANONICAL.encode(body).encode(), digest_size=8).digest(),
        None if source is None else str(source),
        None if target is None else str(target),
    )


def listing_of(raw_nodes: list) -> Listing:
    """A listing from an API answer: content when its nodes carry more than id and _type."""
    nodes = dict(node_of(n) for n in raw_nodes if isinstance(n, dict) and "id" in n)
    readable = any(set(n) - {"id", "_type"} for n in raw_nodes if isinstance(n, dict))
    return Listing(set(nodes), nodes if readable else None)


def ids_sha256(ids: set[str]) -> str:
    """sha256 of the ids sorted as strings, one a line (sha256sum of `sort` of the listing)."""
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()


def id_order(node_id: str) -> tuple:
    return (0, int(node_id), "") if node_id.lstrip("-").isdigit() else (1, 0, node_id)


def first_ids(ids: set[str]) -> list[str]:
    """The first FIRST of `ids` in reading order, without sorting them all."""
    return heapq.nsmallest(FIRST, ids, key=id_order)


def content_digest(nodes: dict[str, Node], ids: set[str]) -> str:
    """One digest over the nodes `ids`, independent of their order: the sum modulo 2^128 of a
    blake2b per node over its id, name, source, target and data digest."""
    total = 0
    for node_id in ids:
        n = nodes[node_id]
        one = f"{node_id}\0{n.name}\0{n.source}\0{n.target}\0".encode() + n.body
        total += int.from_bytes(hashlib.blake2b(one, digest_size=16).digest(), "big")
    return f"{total % (1 << 128):032x}"


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
    content: str = "compared"  # or why it was not: "not readable by the cli probe"
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
    node_type: str, before: Listing, after: Listing, threshold_ns: int | None, choice: Choice, live_before: bool
) -> TypeProof:
    """Compare one type. `live_before`: the before side is the live graph read after the backup was
    made (an existing backup), so restored ids it no longer holds were deleted since: counted, not failed."""
    proof = TypeProof(node_type, ids_sha256(before.ids), ids_sha256(after.ids))
    newer = set() if after.nodes is None else {i for i, n in after.nodes.items() if after_threshold(n, threshold_ns)}
    before_newer = set()
    if live_before and before.nodes is not None:
        before_newer = {i for i, n in before.nodes.items() if after_threshold(n, threshold_ns)}
    missing = before.ids - after.ids - before_newer
    new_ids = after.ids - before.ids - newer
    gone = new_ids if live_before else set()
    new = new_ids - gone
    proof.missing_n, proof.missing = len(missing), first_ids(missing)
    proof.new_n, proof.new = len(new), first_ids(new)
    proof.gone_since_backup_n = len(gone)
    written_after = newer | before_newer
    proof.written_after_n, proof.written_after = len(written_after), first_ids(written_after)
    if before.nodes is None or after.nodes is None:
        proof.content = "not readable by the probe"
        return proof
    chosen, proof.compared_how = choice.chosen(list(before.ids & after.ids - newer - before_newer))
    differing = {}
    for node_id in chosen:
        fields = differing_fields(before.nodes[node_id], after.nodes[node_id])
        if fields:
            differing[node_id] = fields
    proof.compared_n, proof.differing_n = len(chosen), len(differing)
    proof.differing = [{"id": i, "fields": differing[i]} for i in first_ids(set(differing))]
    proof.content_before = content_digest(before.nodes, chosen)
    # equal nodes hash alike: the after side is hashed only when some node differs
    proof.content_after = content_digest(after.nodes, chosen) if differing else proof.content_before
    return proof


def after_threshold(node: Node, threshold_ns: int | None) -> bool:
    """Written after what the backup can hold (an unknown threshold: nothing is, so all is compared)."""
    return threshold_ns is not None and node.updated_ns is not None and node.updated_ns > threshold_ns


def differing_fields(before: Node, after: Node) -> list[str]:
    if before == after:
        return []
    pairs = {"name": (before.name, after.name), "source": (before.source, after.source),
             "target": (before.target, after.target), "data": (before.body, after.body)}  # fmt: skip
    return [name for name, (b, a) in pairs.items() if b != a]


@dataclass
class RelationsProof:
    """Every restored relation (up to the threshold) ends at nodes the restored graph holds."""

    checked_n: int = 0
    dangling_n: int = 0
    dangling: list[dict] = field(default_factory=list)  # {"id", "source", "target", "missing"}
    readable: bool = True


def prove_relations(relations: Listing | None, after: dict[str, Listing], threshold_ns: int | None) -> RelationsProof:
    proof = RelationsProof()
    if relations is None or relations.nodes is None:
        proof.readable = False
        return proof
    every_id = set().union(*(listing.ids for listing in after.values()))
    dangling: dict[str, list[str]] = {}
    for node_id, node in relations.nodes.items():
        if after_threshold(node, threshold_ns):
            continue
        proof.checked_n += 1
        if node.source in every_id and node.target in every_id:
            continue
        dangling[node_id] = [end for end in (node.source, node.target) if end is not None and end not in every_id]
    proof.dangling_n = len(dangling)
    for node_id in first_ids(set(dangling)):
        node = relations.nodes[node_id]
        proof.dangling.append(
            {"id": node_id, "source": node.source, "target": node.target, "missing": dangling[node_id]}
        )
    return proof


def threshold_of(watermark_ns: int | None, before: dict[str, Listing], live_before: bool) -> int | None:
    """Nodes newer than this are not compared: the restore's watermark, or, when the before side
    was read before the backup, the newest change it saw if older (a node changed between that read
    and the backup comes back newer than its before-read self)."""
    if live_before:
        return watermark_ns
    stamps = [n.updated_ns for listing in before.values() for n in (listing.nodes or {}).values() if n.updated_ns]
    newest = max(stamps, default=None)
    if watermark_ns is None or newest is None:
        return watermark_ns if newest is None else newest
    return min(watermark_ns, newest)
