"""An evidence pack for an audit period (`drtests export`): every drill folder of the period that
the ledger holds, each verified before it is packed exactly as `verify-evidence --all` would
(statement, files, timestamp, sign-offs), the ledger itself, the public key(s) and allowed_signers
to check them with, VERIFY.md (how to check it all with openssl, ssh-keygen and python3, without
drtests), and a summary an auditor reads first: drills per target, pass rate, RTO and RPO against
objectives, signatures and sign-offs, built from verified facts only. The pack is signed whole
(`pack.intoto.jsonl`, by the ledger's current key) over every file no drill statement or sign-off
covers and the ledger's head, so an edited summary or a cut tail fails."""

from __future__ import annotations

import hashlib
import json
import statistics
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from drtests import pages
from drtests.errors import DrillError
from drtests.evidence import attest, cadence, deficiencies, findings, ledger, rotate, signoff, verify
from drtests.evidence.proven import proven
from drtests.record import store
from drtests.record.clock import parse_utc, utc_now
from drtests.sign import dsse, keys, tsa
from drtests.words import Verdict

PACK_ENVELOPE = "pack.intoto.jsonl"
PACK_TIMESTAMP = "pack.intoto.tsr"  # an RFC 3161 timestamp over the pack's statement (export --tsa-url)
PACK_PREDICATE_TYPE = "https://drtests.dev/attestation/evidence-pack/v1"
TSA_CA = "keys/tsa-ca.pem"


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


@dataclass
class Verified:
    """One drill as export verified it: who signed its statement, whose sign-offs are good."""

    drill: store.StoredDrill
    signed_by: str | None
    signoffs: list[dict] = field(default_factory=list)


def verified(drill: store.StoredDrill, public_keys: list, allowed_signers: Path | None,
             tsa_ca: Path | None) -> tuple[Verified, list[str]]:  # fmt: skip
    """The drill's folder checked as `verify-evidence --all` checks it: its problems, one line each."""
    found = attest.verify_folder(drill.folder, public_keys or None, allow_unsigned=not public_keys)
    problems = list(found.problems)
    signoffs = signoff.verify_signoffs(drill.folder, found.statement_sha256, allowed_signers)
    problems += signoffs.problems if found.statement is not None else []
    problems += verify.timestamp(drill.folder, tsa_ca)[1] if found.statement is not None else []
    return Verified(drill, found.signed_by, signoffs.valid), problems


def period_summary(drills: list[Verified]) -> list[dict]:
    """Per target: the figures and rows of the summary, from the verified facts alone (the signer
    that verified, the sign-offs whose signatures are good)."""
    targets, by_id = [], {v.drill.summary.drill_id: v for v in drills}
    for target, summaries in store.by_target([v.drill.summary for v in drills]):
        rows = [{**s.as_line(), "signoffs": by_id[s.drill_id].signoffs, "keyid": by_id[s.drill_id].signed_by}
                for s in summaries]  # fmt: skip
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


def signing_key(root: Path, key_path: Path | None, public_keys: list):
    """The key that signs the pack: the ledger's current one. A pack of signed drills needs it."""
    if key_path is None:
        if public_keys:
            raise DrillError("a pack of signed drills is signed whole: give --key, the ledger's current signing key "
                             "(the drills' [evidence] signing_key_file)")  # fmt: skip
        return None
    key = keys.load_private(key_path)
    current, offered = rotate.current_keyid(root), keys.keyid(key.public_key())
    if current is not None and current != offered:
        raise DrillError(f"--key {key_path} is {offered}, but the ledger's current key is {current}: give that key")
    return key


def pack_statement(files: dict[str, bytes], root: Path, period: dict, drills: list[Verified], by: str) -> bytes:
    """The pack's own statement: every file no other signature covers, the ledger's head, the drills."""
    raws = ledger.lines(root)
    per_target: dict[str, list[str]] = {}
    for v in drills:
        per_target.setdefault(v.drill.summary.target_name, []).append(v.drill.summary.drill_id)
    statement = {
        "_type": attest.STATEMENT_TYPE,
        "subject": [{"name": n, "digest": {"sha256": hashlib.sha256(b).hexdigest()}} for n, b in sorted(files.items())],
        "predicateType": PACK_PREDICATE_TYPE,
        "predicate": {
            "period": period, "exported_at": utc_now(), "exported_by": by,
            "ledger": {"identity": hashlib.sha256(raws[0]).hexdigest(), "lines": len(raws),
                       "head_sha256": hashlib.sha256(raws[-1]).hexdigest()},
            "drills": per_target,
        },
    }  # fmt: skip
    return json.dumps(statement, sort_keys=True, separators=(",", ":")).encode()


def export(root: Path, since: datetime, until: datetime | None, out: Path, public_keys: list[Path],
           allowed_signers: Path | None, key_path: Path | None = None, tsa_ca: Path | None = None,
           tsa_url: str | None = None) -> list[dict]:  # fmt: skip
    """Write the pack; DrillError (nothing written) when a folder of the period does not verify,
    or the time-stamping authority asked for does not grant a timestamp."""
    if tsa_url and key_path is None:
        raise DrillError("--tsa-url timestamps the pack's signed statement: give --key too")
    loaded = [keys.load_public(p) for p in public_keys]
    key = signing_key(root, key_path, loaded)
    if key is not None and not loaded:  # the auditor's key: the one that signs the pack
        loaded = [key.public_key()]
    drills = drills_between(root, since, until, loaded)
    loaded = ledger.trusted_keys(root, loaded)  # the statements: by the ledger's key chain
    if not drills:
        raise DrillError(f"no drill in {root} started in the period: nothing to pack")
    checked, refused = [], []
    for drill in drills:
        found, problems = verified(drill, loaded, allowed_signers, tsa_ca)
        checked.append(found)
        refused += [f"{drill.folder}: {p}" for p in problems[:1]]
    if refused:
        raise DrillError(f"does not verify, so not packed: {'; '.join(refused)}")
    targets = period_summary(checked)
    period = {"since": since.date().isoformat(), "until": until.date().isoformat() if until else None}
    gaps = findings.lost_heads(root, since, until, loaded or None) + cadence.of_folder(
        root, since, until, parse_utc(utc_now()), loaded
    )
    gaps = [f.as_dict() | {"where": f.where} for f in gaps]
    register = deficiencies.of_period(deficiencies.of_folder(root, loaded), since, until, parse_utc(utc_now()))
    key_files = public_keys or []
    if len({p.name for p in key_files}) != len(key_files):
        raise DrillError("two --public-key files have the same name: give each its own (e.g. drtests-2026.pub)")
    files = {
        "summary.html": pages.pack_page(targets, period, len(drills), gaps, register).encode(),
        "summary.json": json.dumps({"period": period, "targets": targets, "findings": gaps,
                                    "deficiencies": register}, indent=2, default=str).encode(),
        "VERIFY.md": pages.render("VERIFY.md.j2", predicate_type=attest.PREDICATE_TYPE, period=period,
                                  pack_predicate_type=PACK_PREDICATE_TYPE, signers=allowed_signers is not None,
                                  keys=[p.name for p in key_files] or (["drtests.pub"] if key else []),
                                  tsa_ca=tsa_ca is not None).encode(),
        **{f"keys/{p.name}": p.read_bytes() for p in key_files},
        f"drills/{ledger.LEDGER}": (root / ledger.LEDGER).read_bytes(),
    }  # fmt: skip
    if key is not None and not key_files:
        files["keys/drtests.pub"] = keys.public_pem(key.public_key())
    if allowed_signers is not None:
        files["allowed_signers"] = allowed_signers.read_bytes()
    if tsa_ca is not None:
        files[TSA_CA] = tsa_ca.read_bytes()
    for v in checked:  # who signed off, rebuilt from the sign-offs that verified (never the folder's copy)
        if v.signoffs:
            page = pages.signoffs_page(v.drill.evidence, v.signoffs)
            files[f"drills/{v.drill.folder.name}/{attest.SIGNOFF_DIR}/index.html"] = page.encode()
    tmp = out.with_name(f".{out.name}.partial")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as pack:
        for name, data in files.items():
            pack.writestr(name, data)
        if key is not None:
            statement = pack_statement(files, root, period, checked, keys.keyid(key.public_key()))
            pack.writestr(PACK_ENVELOPE, json.dumps(dsse.envelope(statement, key), separators=(",", ":")) + "\n")
            if tsa_url:
                pack.writestr(PACK_TIMESTAMP, tsa.timestamp(statement, tsa_url, 30))
        for v in checked:
            folder = v.drill.folder
            for file in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
                name = file.relative_to(folder).as_posix()
                if name.startswith(f"{attest.SIGNOFF_DIR}/") and name not in _signoff_files(v):
                    continue  # sign-offs that did not verify are not packed; the page is rebuilt above
                pack.write(file, f"drills/{folder.name}/{name}")
    tmp.replace(out)
    return targets


def _signoff_files(v: Verified) -> set[str]:
    return {f"{attest.SIGNOFF_DIR}/{r['file']}{x}" for r in v.signoffs for x in ("", ".sig")}
