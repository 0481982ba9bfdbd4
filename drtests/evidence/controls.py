"""`drtests controls`: the compliance matrix of a period. Each control the drills name
(`[evidence] controls`), with every drill of the period that is evidence for it: verdict, RTO and
RPO met, signature valid (by a given public key; a legacy HMAC folder never counts as signed),
sign-offs valid (by allowed_signers), and the ledger's own findings of the period (a lost head).
As markdown, JSON, or NIST OSCAL assessment-results."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from drtests.evidence import attest, ledger, signoff
from drtests.evidence.cadence import holds, met
from drtests.evidence.findings import Finding
from drtests.evidence.pack import drills_between
from drtests.record import store
from drtests.record.clock import utc_now

NAMESPACE = uuid.UUID("6f0c5a52-4b7e-4c3e-9a55-0d7c1f3e2a10")  # drtests' own: stable uuids for the same drills


@dataclass(frozen=True)
class Row:
    """One drill as evidence for one control."""

    drill_id: str
    target: str
    started: str
    verdict: str
    rto_met: bool | None
    rpo_met: bool | None
    signature: str  # "valid (SHA256:...)", "UNSIGNED", "legacy HMAC", or what is wrong
    signature_valid: bool
    signoffs: list[str]  # "ann@example.com (reviewer)" for each valid one
    signoff_problems: list[str]

    @property
    def satisfied(self) -> bool:
        """Evidence that holds: a passing drill within its objectives, validly signed."""
        return holds(self.verdict, self.signature_valid, self.rto_met, self.rpo_met)


def row_of(drill: store.StoredDrill, public_keys: list[Ed25519PublicKey], allowed_signers: Path | None) -> Row:
    found = attest.verify_folder(drill.folder, public_keys)
    if found.legacy:
        signature, valid = "legacy HMAC (anyone holding the key could have written it)", False
    elif found.unsigned:
        signature, valid = "UNSIGNED", False
    elif found.problems:
        signature, valid = found.problems[0], False
    else:
        signature, valid = f"valid ({found.signed_by})", True
    signoffs = signoff.verify_signoffs(drill.folder, found.statement_sha256, allowed_signers) if found.statement \
        else signoff.SignoffCheck()  # fmt: skip
    s = drill.summary
    return Row(s.drill_id, s.target_name, s.started, s.verdict, met(s.rto_s, s.rto_objective_s),
               met(s.rpo_s, s.rpo_objective_s), signature, valid,
               [f"{r.get('by')} ({r.get('role')})" for r in signoffs.valid], signoffs.problems)  # fmt: skip


def matrix(root: Path, since: datetime, until: datetime | None, public_keys: list[Ed25519PublicKey],
           allowed_signers: Path | None) -> dict[str, list[Row]]:  # fmt: skip
    """Control -> the period's drills that are evidence for it, oldest first (read through the ledger)."""
    found: dict[str, list[Row]] = {}
    public_keys = ledger.trusted_keys(root, public_keys)
    for drill in drills_between(root, since, until):
        row = row_of(drill, public_keys, allowed_signers)
        for control in drill.evidence.get("controls") or []:
            found.setdefault(control, []).append(row)
    return dict(sorted(found.items()))


def as_json(rows: dict[str, list[Row]], period: dict, findings: list[Finding] = ()) -> dict:
    return {"period": period, "controls": {c: [asdict(r) | {"satisfied": r.satisfied} for r in rs]
                                           for c, rs in rows.items()},
            "findings": [f.as_dict() for f in findings]}  # fmt: skip


def as_markdown(rows: dict[str, list[Row]], period: dict, findings: list[Finding] = ()) -> str:
    yes = {True: "yes", False: "**no**", None: "n/a"}
    lines = [f"# Disaster-recovery controls, {period['since']} to {period['until'] or 'now'}", ""]
    if not rows:
        lines.append("No drill of the period names a control (`[evidence] controls` in the drill config).")
    for control, found in rows.items():
        held = sum(r.satisfied for r in found)
        lines += [f"## {control}", "", f"{len(found)} drill(s), {held} satisfied (passed, objectives met, validly "
                  "signed).", "", "| started (UTC) | drill | target | verdict | RTO met | RPO met | signature | "
                  "sign-offs |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for r in found:
            signoffs = "; ".join(r.signoffs) or "none"
            if r.signoff_problems:
                signoffs += f" (**{len(r.signoff_problems)} not valid**)"
            lines.append(f"| {r.started} | {r.drill_id} | {r.target} | {r.verdict} | {yes[r.rto_met]} | "
                         f"{yes[r.rpo_met]} | {r.signature} | {signoffs} |")  # fmt: skip
        lines.append("")
    if findings:
        lines += ["## Findings", ""] + [f"- **{f.where}** ({f.at}): {f.text}" for f in findings] + [""]
    return "\n".join(lines) + "\n"


def token(control: str) -> str:
    """An OSCAL token (letters, digits, '.', '-', '_'; a letter first) for a control such as ISO27001-2022:A.8.13."""
    cleaned = "".join(c if c.isalnum() or c in ".-_" else "_" for c in control.lower())
    return cleaned if cleaned[:1].isalpha() else f"c_{cleaned}"


def serves(finding: Finding, control: str, found: list[Row]) -> bool:
    """The finding is about this control: its own, or (no control named) one its target's drills serve."""
    return finding.control == control or not finding.control and finding.target in {r.target for r in found}


def held(control: str, found: list[Row], findings: list[Finding]) -> bool:
    """Satisfied: drills of the period, each evidence that holds, and no cadence gap of the control."""
    return bool(found) and all(r.satisfied for r in found) and not any(f.control == control for f in findings)


def as_oscal(rows: dict[str, list[Row]], period: dict, version: str, findings: list[Finding] = ()) -> dict:
    """NIST OSCAL assessment-results (1.1): one result for the period, an observation per drill,
    a finding per control (satisfied when every drill of it was, and there was one); each ledger
    finding an observation of type "finding", related to the controls its target's drills serve."""
    drills = {r.drill_id: r for found in rows.values() for r in found}
    gaps = [{
        "uuid": str(uuid.uuid5(NAMESPACE, f.key)),
        "title": f"Evidence lost from the ledger of {f.target}" if f.kind == "lost head"
                 else f"{f.control} not proven on {f.target} as often as declared", "description": f.text,
        "methods": ["EXAMINE"], "types": ["finding"], "collected": f.at,
        "relevant-evidence": [{"href": "drills/ledger.jsonl", "description": f"ledger line {f.line}"}],
    } for f in findings]  # fmt: skip
    observations = [{
        "uuid": str(uuid.uuid5(NAMESPACE, f"observation/{r.drill_id}")),
        "title": f"DR drill {r.drill_id} of {r.target}: {r.verdict}",
        "description": f"Disaster-recovery drill of {r.target}, started {r.started}: verdict {r.verdict}; RTO met: "
                       f"{r.rto_met}; RPO met: {r.rpo_met}; signature: {r.signature}; sign-offs: "
                       f"{'; '.join(r.signoffs) or 'none'}.",
        "methods": ["TEST"], "types": ["control-objective"], "collected": r.started,
        "relevant-evidence": [{"href": f"drills/{r.drill_id}/evidence.intoto.jsonl",
                               "description": "the drill's signed statement (DSSE, in-toto Statement v1)"}],
    } for r in drills.values()]  # fmt: skip
    findings = [{
        "uuid": str(uuid.uuid5(NAMESPACE, f"finding/{control}/{period['since']}/{period['until']}")),
        "title": control, "description": f"{len(found)} drill(s) of the period are evidence for {control}.",
        "props": [{"name": "control", "ns": "https://drtests.dev/ns/oscal", "value": control}],
        "target": {"type": "objective-id", "target-id": token(control),
                   "status": {"state": "satisfied" if held(control, found, findings) else "not-satisfied"}},
        "related-observations": [{"observation-uuid": str(uuid.uuid5(NAMESPACE, f"observation/{r.drill_id}"))}
                                 for r in found] + [{"observation-uuid": g["uuid"]} for g, f
                                                    in zip(gaps, findings, strict=True)
                                                    if serves(f, control, found)],
    } for control, found in rows.items()]  # fmt: skip
    start = f"{period['since']}T00:00:00Z"
    result = {
        "uuid": str(uuid.uuid5(NAMESPACE, f"result/{period['since']}/{period['until']}")),
        "title": f"Disaster-recovery drills, {period['since']} to {period['until'] or 'now'}",
        "description": "Every drill of the period held by the signed ledger, per control it is evidence for.",
        "start": start, "reviewed-controls": {"control-selections": [
            {"include-controls": [{"control-id": token(c)} for c in rows]} if rows else {"include-all": {}}]},
    }  # fmt: skip
    if period["until"]:
        result["end"] = f"{period['until']}T00:00:00Z"
    observations += gaps
    if observations:
        result["observations"] = observations
    if findings:
        result["findings"] = findings
    return {"assessment-results": {
        "uuid": str(uuid.uuid4()),
        "metadata": {"title": result["title"], "last-modified": utc_now(), "version": version,
                     "oscal-version": "1.1.2"},
        "import-ap": {"href": "#drtests-drill-plan"},
        "results": [result],
    }}  # fmt: skip
