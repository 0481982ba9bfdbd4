"""`drtests deficiencies`: the register as a stranger reads it (markdown, open first), as JSON, and
as an OSCAL Plan of Action and Milestones: a poam-item per deficiency, its risk open or closed
with a risk-log entry for each opening and closing, an observation per drill that found one."""

from __future__ import annotations

import uuid
from datetime import datetime

from drtests.evidence.controls import NAMESPACE, token
from drtests.evidence.deficiencies import Deficiency, Register, age_days, of_period
from drtests.record.clock import utc_now

NS = "https://drtests.dev/ns/oscal"


def as_json(found: Register, at: datetime, only_open: bool = False) -> dict:
    shown = found.open() if only_open else found.deficiencies
    return {"at": at.isoformat(timespec="seconds").replace("+00:00", "Z"), "verified": found.verified,
            "drills": found.drills, "not_counted": found.not_counted,
            "open": len(found.open()), "deficiencies": [d.as_dict(at) for d in ordered(shown)]}  # fmt: skip


def ordered(deficiencies: list[Deficiency]) -> list[Deficiency]:
    """Open first, the oldest first; then closed, the most recently closed first."""
    still = sorted((d for d in deficiencies if d.open), key=lambda d: d.now.opened_at)
    closed = sorted((d for d in deficiencies if not d.open), key=lambda d: str(d.now.closed_at), reverse=True)
    return still + closed


def as_markdown(found: Register, at: datetime, only_open: bool = False) -> str:
    opened = ordered(found.open())
    lines = ["# Disaster-recovery deficiencies", ""]
    if not found.verified:
        lines += ["**UNVERIFIED**: no --public-key was given, so no drill's signature was checked; anyone who can "
                  "write the report folder could have written what follows.", ""]  # fmt: skip
    lines += [f"From {found.drills} drill(s) of the ledger, at {at.isoformat(timespec='minutes')}: {len(opened)} open, "
              f"{len(found.deficiencies) - len(opened)} closed. A deficiency is a failed or unproven check; it closes "
              "when later drills of the target have passed every index or type that failed.", ""]  # fmt: skip
    lines += ["## Open", ""]
    if not opened:
        lines += ["None.", ""]
    for d in opened:
        now = d.now
        late = " **OVERDUE**" if d.overdue(at) else ""
        again = f", recurring (occurrence {len(d.occurrences)})" if d.recurring else ""
        taken = now.accepted or {}
        accepted = (
            [
                f"- risk **ACCEPTED** until {taken.get('until')} by {taken.get('by')} ({taken.get('at')}): "
                f"{taken.get('reason')}" + ("" if d.accepted(at) else " (**expired**)")
            ]
            if taken
            else []
        )
        assigned = [f"- assigned by {d.assigned.get('by')} ({d.assigned.get('at')})"] if d.assigned else []
        lines += [f"### {d.target}: {d.check} ({d.phase})", "",
                  f"- severity: **{now.severity}**{again}", *accepted,
                  f"- opened by drill {now.opened_by} at {now.opened_at}, {age_days(now.opened_at, at)} day(s) ago",
                  f"- due {now.due}{late}; owner: {d.owner or 'nobody named ([evidence] owner)'}", *assigned,
                  f"- failed in: {', '.join(now.failed_in)}",
                  *([f"- not yet passed again: {', '.join(now.items)}"] if now.items else []),
                  f"- last failure: {now.message or '(no message)'}",
                  f"- controls: {', '.join(d.controls) or 'none named'}", ""]  # fmt: skip
    if not only_open:
        closed = [d for d in ordered(found.deficiencies) if not d.open]
        lines += ["## Closed", ""]
        if not closed:
            lines += ["None.", ""]
        else:
            lines += ["| target | check | phase | severity | opened by | closed by | times opened |",
                      "|---|---|---|---|---|---|---|"]  # fmt: skip
            lines += [f"| {d.target} | {d.check} | {d.phase} | {d.now.severity} | {d.now.opened_by} "
                      f"({d.now.opened_at}) | {d.now.closed_by} ({d.now.closed_at}) | {len(d.occurrences)} |"
                      for d in closed]  # fmt: skip
            lines.append("")
    if found.not_counted:
        lines += ["## Drills not counted", ""] + [f"- {why}" for why in found.not_counted] + [""]
    if found.not_applied:
        lines += ["## Risk decisions not applied", ""] + [f"- {why}" for why in found.not_applied] + [""]
    return "\n".join(lines)


def as_oscal(found: Register, at: datetime, version: str, only_open: bool = False) -> dict:
    """OSCAL 1.1 plan-of-action-and-milestones: uuids of items, risks and observations are stable
    across runs (derived from the deficiency and the drills), the document's own is new each time."""
    shown = ordered(found.open() if only_open else found.deficiencies)
    drills = sorted({(o.opened_at, i) for d in shown for o in d.occurrences for i in o.failed_in})
    observations = [{
        "uuid": observation_uuid(drill_id), "title": f"DR drill {drill_id}",
        "description": f"A disaster-recovery drill that failed or left unproven a check: {drill_id}.",
        "methods": ["TEST"], "types": ["finding"], "collected": started,
        "relevant-evidence": [{"href": f"{drill_id}/evidence.intoto.jsonl",
                               "description": "the drill's signed statement (DSSE, in-toto Statement v1)"}],
    } for started, drill_id in dict.fromkeys(drills)]  # fmt: skip
    risks = [risk_of(d, at) for d in shown]
    items = [{
        "uuid": str(uuid.uuid5(NAMESPACE, f"poam-item/{d.key}")), "title": f"{d.target}: {d.check} ({d.phase})",
        "description": d.now.message or f"{d.check} failed on {d.target}",
        "props": [{"name": "POAM-ID", "ns": NS, "value": d.key},
                  {"name": "severity", "ns": NS, "value": d.now.severity},
                  *([{"name": "owner", "ns": NS, "value": d.owner}] if d.owner else []),
                  *[{"name": "impacted-control-id", "ns": NS, "value": token(c)} for c in d.controls]],
        "related-observations": [{"observation-uuid": observation_uuid(i)} for o in d.occurrences for i in o.failed_in],
        "related-risks": [{"risk-uuid": risk["uuid"]}],
    } for d, risk in zip(shown, risks, strict=True)]  # fmt: skip
    document = {
        "uuid": str(uuid.uuid4()),
        "metadata": {"title": "Disaster-recovery deficiencies", "last-modified": utc_now(), "version": version,
                     "oscal-version": "1.1.2"},
        "system-id": {"identifier-type": NS, "id": "drtests-report-folder"},
        "poam-items": items or [{"title": "No deficiency", "description": "No drill counted failed a check."}],
    }  # fmt: skip
    if observations:
        document["observations"] = observations
    if risks:
        document["risks"] = risks
    return {"plan-of-action-and-milestones": document}


def observation_uuid(drill_id: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"observation/{drill_id}"))


def risk_of(d: Deficiency, at: datetime) -> dict:
    entries = []
    for n, o in enumerate(d.occurrences):
        entries.append({"uuid": str(uuid.uuid5(NAMESPACE, f"risk-log/{d.key}/{n}/open")), "title": "opened",
                        "description": f"drill {o.opened_by} failed it", "start": o.opened_at,
                        "status-change": "open"})  # fmt: skip
        if o.accepted:
            entries.append({"uuid": str(uuid.uuid5(NAMESPACE, f"risk-log/{d.key}/{n}/accepted")),
                            "title": "risk accepted", "start": str(o.accepted.get("at")),
                            "end": f"{o.accepted.get('until')}T23:59:59Z",
                            "description": f"accepted by {o.accepted.get('by')} until {o.accepted.get('until')}: "
                                           f"{o.accepted.get('reason')} (signed with their SSH key)",
                            "status-change": "deviation-approved"})  # fmt: skip
        if o.closed_by:
            entries.append({"uuid": str(uuid.uuid5(NAMESPACE, f"risk-log/{d.key}/{n}/closed")), "title": "closed",
                            "description": f"drill {o.closed_by} passed every item that failed",
                            "start": o.closed_at, "status-change": "closed"})  # fmt: skip
    risk = {
        "uuid": str(uuid.uuid5(NAMESPACE, f"risk/{d.key}")), "title": f"{d.check} on {d.target}",
        "description": d.now.message or f"{d.check} failed on {d.target}",
        "statement": f"Until a drill passes it again, recovery of {d.target} is not proven for {d.check} "
                     f"({d.now.severity}).",
        "status": {"open": "open", "accepted": "deviation-approved", "closed": "closed"}[d.status(at)],
        "risk-log": {"entries": entries},
        "related-observations": [{"observation-uuid": observation_uuid(i)} for i in d.now.failed_in],
    }  # fmt: skip
    if d.open:
        risk["deadline"] = f"{d.now.due}T23:59:59Z"
    return risk


def with_risks(document: dict, found: Register, since: datetime, until: datetime | None, at: datetime) -> dict:
    """`drtests controls --format oscal` with the register beside it: each deficiency open at some
    time in the period, as a risk of the result (as in the POA&M), and each control's finding
    related to the risks of the deficiencies its drills found."""
    (result,) = document["assessment-results"]["results"]
    kept = {d["key"] for d in of_period(found, since, until, at)["deficiencies"]}
    shown = [d for d in found.deficiencies if d.key in kept]
    if not shown:
        return document
    present = {o["uuid"] for o in result.get("observations", [])}
    risks = []
    for d in shown:
        risk = risk_of(d, at)
        risk["related-observations"] = [r for r in risk["related-observations"] if r["observation-uuid"] in present]
        if not risk["related-observations"]:
            del risk["related-observations"]
        risks.append(risk)
    result["risks"] = risks
    for finding in result.get("findings", []):
        related = [
            {"risk-uuid": r["uuid"]} for d, r in zip(shown, risks, strict=True) if finding["title"] in d.controls
        ]
        if related:
            finding["related-risks"] = related
    return document
