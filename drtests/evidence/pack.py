"""An evidence pack for an audit period (`drtests export`): every drill folder of the period that
the ledger holds, each verified before it is packed, the ledger itself (its chain from the first
line to the signed head), the public key(s) and allowed_signers to check them with, VERIFY.md (how
to check it all with openssl, sha256sum, ssh-keygen and python3, without drtests), the history
page, and a summary an auditor reads first: drills per target, pass rate, RTO and RPO against
objectives, signatures and sign-offs."""

from __future__ import annotations

import json
import statistics
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from drtests import pages
from drtests.errors import DrillError
from drtests.evidence import attest, ledger, signoff
from drtests.evidence.proven import proven
from drtests.record import store
from drtests.sign import keys
from drtests.words import Verdict


def parse_day(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise DrillError(f"{text!r} is not a day: write YYYY-MM-DD") from None


def drills_between(root: Path, since: datetime, until: datetime | None,
                   public_keys: list | None = None) -> list[store.StoredDrill]:  # fmt: skip
    """Every drill of the ledger that started in [since, until), oldest first; a broken ledger,
    or a folder that is not a drill's evidence, refuses the pack (it may be one of the period's).
    With public keys, every drill line must be signed by one of them, and unsigned history (the
    drills before the first signed one) is not packed: it is no signed evidence."""
    scan = store.scan(root)
    if scan.malformed:
        raise DrillError(f"{scan.malformed[0].folder}: {scan.malformed[0].why}: not packed")
    found = []
    for drill in proven(root, public_keys or None)[0]:
        try:
            started = datetime.fromisoformat(drill.summary.started.replace("Z", "+00:00"))
        except (ValueError, AttributeError):
            raise DrillError(f"{drill.folder}: evidence.json is not a drill's evidence: not packed") from None
        if started >= since and (until is None or started < until):
            found.append(drill)
    return found


def spread(values: list[float]) -> dict | None:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)} if values else None


def period_summary(drills: list[store.StoredDrill]) -> list[dict]:
    targets, folders = [], {d.summary.drill_id: d.folder for d in drills}
    evidence = {d.summary.drill_id: d.evidence for d in drills}
    for target, summaries in store.by_target([d.summary for d in drills]):
        rows = [{**s.as_line(), "signoffs": signoff.records(folders[s.drill_id]),
                 "keyid": (evidence[s.drill_id].get("signing") or {}).get("keyid")} for s in summaries]  # fmt: skip
        passed = sum(1 for r in rows if r["verdict"] == Verdict.PASS)
        targets.append({
            "target": target, "drills": len(rows), "passed": passed, "pass_rate": passed / len(rows),
            "rto": spread([r["rto_s"] for r in rows if r["rto_s"] is not None]),
            "rto_objective_s": rows[-1]["rto_objective_s"],
            "rpo": spread([r["rpo_s"] for r in rows if r["rpo_s"] is not None]),
            "rpo_objective_s": rows[-1]["rpo_objective_s"],
            "rows": rows,
        })  # fmt: skip
    return targets


def export(root: Path, since: datetime, until: datetime | None, out: Path, public_keys: list[Path],
           allowed_signers: Path | None) -> list[dict]:  # fmt: skip
    """Write the pack; DrillError (nothing written) when a folder of the period does not verify."""
    loaded = [keys.load_public(p) for p in public_keys]
    drills = drills_between(root, since, until, loaded)
    loaded = ledger.trusted_keys(root, loaded)  # the statements: by the ledger's key chain
    if not drills:
        raise DrillError(f"no drill in {root} started in the period: nothing to pack")
    refused = []
    for drill in drills:
        found = attest.verify_folder(drill.folder, loaded or None, allow_unsigned=not loaded)
        if found.problems:
            refused.append(f"{drill.folder}: {found.problems[0]}")
    if refused:
        raise DrillError(f"does not verify, so not packed: {'; '.join(refused)}")
    targets = period_summary(drills)
    period = {"since": since.date().isoformat(), "until": until.date().isoformat() if until else None}
    page = pages.pack_page(targets, period, len(drills))
    tmp = out.with_name(f".{out.name}.partial")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as pack:
        pack.writestr("summary.html", page)
        pack.writestr("summary.json", json.dumps({"period": period, "targets": targets}, indent=2, default=str))
        pack.writestr("VERIFY.md", pages.render("VERIFY.md.j2", predicate_type=attest.PREDICATE_TYPE,
                                                 keys=[p.name for p in public_keys], period=period,
                                                 signers=allowed_signers is not None))  # fmt: skip
        for path in public_keys:
            pack.write(path, f"keys/{path.name}")
        if allowed_signers is not None:
            pack.write(allowed_signers, "allowed_signers")
        pack.write(root / ledger.LEDGER, f"drills/{ledger.LEDGER}")
        if (root / "index.html").exists():
            pack.write(root / "index.html", "index.html")
        for folder in (d.folder for d in drills):
            for file in sorted(p for p in folder.rglob("*") if p.is_file()):
                pack.write(file, f"drills/{folder.name}/{file.relative_to(folder)}")
    tmp.replace(out)
    return targets
