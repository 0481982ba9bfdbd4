"""The graph proof's checks on a drill: the same ids per type, the same content per type, every
relation whole. Each names what differs; what the probe cannot read is unproven, never passed."""

from __future__ import annotations

from dataclasses import asdict

from drtests.config import DrillConfig
from drtests.declared import EACH_TYPE, Planned, check
from drtests.es.digests import full_verify_share
from drtests.record.drill import Drill
from drtests.topology.proof import (
    FIRST,
    UNREADABLE,
    Choice,
    Listing,
    RelationsProof,
    TypeProof,
    prove_relations,
    prove_type,
    threshold_of,
)

IDS, CONTENT, RELATIONS = (
    check("topology ids {type}"),
    check("topology content {type}"),
    check("topology relations whole"),
)


def choice_for(cfg: DrillConfig, drill: Drill) -> Choice:
    return Choice(
        drill.id, cfg.probe.content_sample, full_verify_share(cfg.probe.content_share), drill.preflight.sequence
    )


def plan(cfg: DrillConfig, phase: str, live_before: bool) -> list[Planned]:
    """The plan's lines for the proof, as `cfg`'s probe will read the restored graph."""
    probe, share = cfg.probe, full_verify_share(cfg.probe.content_share)
    before = "the live graph (changes since the backup: listed, not failed)" if live_before else "the baseline"
    rotation = f"every node whose id falls in this drill's {share[0]}/{share[1]} (rotating)" if share else ""
    how = ", ".join(filter(None, [f"a sample of {probe.content_sample} chosen from the drill id", rotation]))
    unreadable = {"cli": " (unproven: the cli probe lists ids only)", "command": " (unproven: counts only)"}
    note = unreadable.get(probe.kind, "")
    return [
        IDS.planned(
            phase,
            f"ids per type after == {before}; nodes newer than the watermark listed, not compared"
            + (note if probe.kind == "command" else ""),
            type=EACH_TYPE,
        ),  # fmt: skip
        CONTENT.planned(phase, f"name, data, source and target of {how} == {before}{note}", type=EACH_TYPE),
        RELATIONS.planned(phase, f"every restored {probe.relation_type} ends at nodes the restored graph holds{note}"),
    ]


def kept_by(before: dict[str, Listing] | None) -> dict[str, set[str]]:
    """What the after side keeps whole: per type, the ids the before side kept (compared nodes)."""
    return {t: set(listing.kept or ()) for t, listing in (before or {}).items()}


def prove_graph(
    drill: Drill,
    phase: str,
    cfg: DrillConfig,
    before: dict[str, Listing] | None,
    after: dict[str, Listing] | None,
    live_before: bool,
) -> dict:
    """Record the proof's checks on `drill`; its section of the evidence."""
    kind = cfg.probe.kind
    if before is None or after is None:
        for node_type in cfg.probe.types or sorted(drill.baseline.topology):
            drill.unproven(phase, IDS(type=node_type), f"ids: the {kind} probe prints counts only")
            drill.unproven(phase, CONTENT(type=node_type), f"content: not readable by the {kind} probe")
        drill.unproven(phase, RELATIONS(), f"relations: not readable by the {kind} probe")
        return {"probe_reads": "counts"}
    threshold = threshold_of(drill.restore.watermark_ns, before, live_before)
    choice = choice_for(cfg, drill)
    types: dict[str, dict] = {}
    for node_type in sorted(set(before) | set(after)):
        proof = prove_type(node_type, before.get(node_type, Listing(set())), after.get(node_type, Listing(set())),
                           threshold, live_before)  # fmt: skip
        record_type(drill, phase, proof, kind)
        types[node_type] = {k: v for k, v in asdict(proof).items() if k != "node_type"}
    relations = prove_relations(after.get(cfg.probe.relation_type), after, threshold)
    record_relations(drill, phase, relations, cfg.probe.relation_type, kind)
    return {
        "probe_reads": "ids and content" if all(v.kept is not None for v in after.values()) else "ids",
        "threshold_ns": threshold,
        "compared": {
            "sample": choice.sample,
            "share": cfg.probe.content_share,
            "sequence": choice.sequence,
            "slots": sorted(choice.slots()),
        },
        "types": types,
        "relations": asdict(relations),
    }


def first(ids: list[str], n: int) -> str:
    return ", ".join(ids) + (", ..." if n > len(ids) else "")


def record_type(drill: Drill, phase: str, proof: TypeProof, kind: str) -> None:
    t = proof.node_type
    gone = proof.gone_since_backup_n
    missing = f"{proof.missing_n} missing" + (f" ({first(proof.missing, proof.missing_n)})" if proof.missing_n else "")
    new = f"{proof.new_n} new" + (f" ({first(proof.new, proof.new_n)})" if proof.new_n else "")
    drill.check(phase, IDS(type=t), "0 missing, 0 new", f"{proof.missing_n} missing, {proof.new_n} new",
                ok=proof.same_ids, message=f"topology type {t}: other ids after the restore: {missing}, {new}"
                + (f"; {gone} restored id(s) deleted live since the backup" if gone else ""))  # fmt: skip
    if proof.content != "compared":
        if proof.content == UNREADABLE:
            proof.content = f"not readable by the {kind} probe"
        drill.unproven(phase, CONTENT(type=t), f"content: {proof.content}")
        return
    named = "; ".join(f"{d['id']} ({', '.join(d['fields'])})" for d in proof.differing)
    more = ", ..." if proof.differing_n > len(proof.differing) else ""
    drill.check(phase, CONTENT(type=t), proof.content_before, proof.content_after, ok=proof.differing_n == 0,
                message=f"topology type {t}: {proof.differing_n} of {proof.compared_n} compared node(s) differ "
                f"after the restore ({proof.compared_how}): {named}{more}")  # fmt: skip


def record_relations(drill: Drill, phase: str, proof: RelationsProof, relation_type: str, kind: str) -> None:
    if not proof.readable:
        drill.unproven(phase, RELATIONS(), f"relations: the source and target of a {relation_type} are not "
                       f"readable by the {kind} probe")  # fmt: skip
        return
    named = "; ".join(f"{d['id']} ({d['source']} -> {d['target']}: {', '.join(d['missing']) or 'an end'} missing)"
                      for d in proof.dangling[:FIRST])  # fmt: skip
    more = ", ..." if proof.dangling_n > len(proof.dangling) else ""
    drill.check(phase, RELATIONS(), 0, proof.dangling_n,
                message=f"{proof.dangling_n} of {proof.checked_n} restored {relation_type}(s) end at a node the "
                f"restored graph does not hold: {named}{more}")  # fmt: skip
