"""What drills made on a target, recorded on the target itself (beside the drill lock) the moment
before they make it: every drill backup file and snapshot, with the drill and the target that
made it. Retention deletes only what is recorded here (a partial export of a killed drill too),
so a report folder, which anyone can edit or empty, is never the only word for a deletion."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from drtests.config import DrillConfig
from drtests.errors import DrillError
from drtests.hosts.host import TargetHost, quote
from drtests.record.clock import utc_now
from drtests.words import is_drill_id

MADE = "drtests-made.jsonl"


@dataclass(frozen=True)
class Made:
    kind: str  # "backup file" | "snapshot"
    name: str  # the file's path, or repository/snapshot
    drill: str
    at: str
    proven: bool = True  # with a signing key configured: the line carries a valid signature by it


def signing_key(cfg: DrillConfig):
    """The drill key, or None when none is configured: what the target's own records are signed with."""
    from drtests.sign import keys

    path = cfg.signing_key_path
    return keys.load_private(path) if path else None


def _canonical(entry: dict) -> bytes:
    return json.dumps({k: v for k, v in entry.items() if k != "sig"}, sort_keys=True, separators=(",", ":")).encode()


def signature(key, entry: dict) -> str:
    """The base64 ed25519 signature of `entry` (all but its "sig"), as signed() checks it."""
    return base64.b64encode(key.sign(_canonical(entry))).decode()


def backup_file(cfg: DrillConfig, drill_id: str) -> str:
    """Where drill `drill_id` exports its backup: the only kind of file retention ever deletes."""
    return f"{cfg.path(cfg.stackstate.backup_dir).rstrip('/')}/drtests-{drill_id}.graph"


def path(cfg: DrillConfig) -> str:
    return f"{cfg.state_dir.rstrip('/')}/{MADE}"


def record(cfg: DrillConfig, host: TargetHost, kind: str, name: str, drill_id: str) -> None:
    """Append what a drill is about to make; a drill that cannot record it does not make it. With a
    signing key, the line is signed: a line someone on the target adds is then not taken for one."""
    entry = {"kind": kind, "name": name, "drill": drill_id, "target": cfg.target_name, "at": utc_now()}
    if (key := signing_key(cfg)) is not None:
        entry["sig"] = signature(key, entry)
    line = json.dumps(entry)
    if host.run(f"printf '%s\\n' {quote(line)} >> {quote(path(cfg))}", 30).rc != 0:
        raise DrillError(f"cannot record the {kind} {name} in {path(cfg)} on {host.url}: nothing was made")


def made(cfg: DrillConfig, host: TargetHost) -> list[Made]:
    """This target's records, oldest first; a line that is not one (cut short, edited) is left out.
    With a signing key configured, a line without a valid signature by it is not `proven`."""
    key = signing_key(cfg)
    found = []
    for text in (host.read(path(cfg)) or "").splitlines():
        try:
            entry = json.loads(text)
            if (
                entry["target"] == cfg.target_name
                and entry["kind"] in ("backup file", "snapshot")
                and is_drill_id(entry["drill"])  # a drill id with '/../' names no file of its own
            ):
                proven = key is None or signed(key.public_key(), entry)
                found.append(Made(entry["kind"], str(entry["name"]), str(entry["drill"]), str(entry["at"]), proven))
        except (ValueError, KeyError, TypeError):
            continue
    return found


def signed(public, entry: dict) -> bool:
    from drtests.sign import keys

    try:
        return keys.valid(public, base64.b64decode(str(entry.get("sig", "")), validate=True), _canonical(entry))
    except binascii.Error:
        return False


HEAD = "drtests-ledger-head.json"


def head_path(cfg: DrillConfig) -> str:
    return f"{cfg.state_dir.rstrip('/')}/{HEAD}"


def record_head(cfg: DrillConfig, host: TargetHost, ledger_id: str, seq: int, sha256: str, drill_id: str,
                drills: int, known: dict | None) -> None:  # fmt: skip
    """Keep the ledger line this target's drill just wrote, per ledger (`ledger_id`: its identity),
    beside the heads of the other ledgers its drills went to (`known`: the record so far); replaced
    atomically. The next drill into the same ledger proves it still holds its head, so a folder
    replaced by an older copy is noticed; a drill into another ledger never fails for this one.
    `drills`: how many drills this target has had, for the next one's rotation (full verification)
    when its report folder starts empty, as a CI job's does. seq, sha256 and drill at the top: the
    newest head, as drtests before ledger identities wrote it."""
    at = utc_now()
    heads = {k: v for k, v in (heads_of(known) if known else {}).items() if k}
    heads[ledger_id] = {"seq": seq, "sha256": sha256, "drill": drill_id, "at": at}
    line = json.dumps({"seq": seq, "sha256": sha256, "drill": drill_id, "target": cfg.target_name, "at": at,
                       "drills": drills, "ledger": ledger_id, "ledgers": heads})  # fmt: skip
    target = quote(head_path(cfg))
    if host.run(f"printf '%s\\n' {quote(line)} > {target}.new && mv -f {target}.new {target}", 30).rc != 0:
        raise DrillError(f"cannot write {head_path(cfg)} on {host.url}")


def heads_of(recorded: dict) -> dict[str, dict]:
    """Each ledger's head in a record: {identity: head}; a record written before ledgers had an
    identity holds one head, under the identity "" (it may be any ledger's)."""
    ledgers = recorded.get("ledgers")
    if isinstance(ledgers, dict):
        return {str(k): v for k, v in ledgers.items() if isinstance(v, dict)}
    return {"": recorded}


def recorded_head(cfg: DrillConfig, host: TargetHost) -> dict | None:
    """The ledger line the target's last finished drill wrote; None when none was recorded (or
    the record is not one: the check then says so)."""
    text = host.read(head_path(cfg))
    if not text:
        return None
    try:
        head = json.loads(text)
    except ValueError:
        return {"malformed": text[:80]}
    return head if isinstance(head, dict) else {"malformed": text[:80]}
