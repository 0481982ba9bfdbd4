"""The ledger head kept with the target: each drill's last act records, beside the drill lock,
the ledger line it wrote; the next drill's preflight proves its report folder's ledger still
holds that line. A report folder replaced wholesale by an older copy (or a drill's line cut from
the ledger's end, with its folder) cannot hide from the next drill."""

from __future__ import annotations

import hashlib
from pathlib import Path

from drtests import drill_state
from drtests.config import DrillConfig
from drtests.declared import Planned
from drtests.errors import DrillError
from drtests.evidence import ledger, rotate
from drtests.hosts.host import TargetHost
from drtests.options import DrillOptions
from drtests.sign import keys
from drtests.steps import check, drill_sequence

PHASE = "preflight"
HEAD_HELD = check("report folder holds this target's last ledger line")
KEY_CURRENT = check("drill signs with the ledger's current key")


def plan(cfg: DrillConfig, options: DrillOptions) -> list[Planned]:
    return [HEAD_HELD.planned(PHASE, f"{drill_state.head_path(cfg)} on the target, against "
                              f"{options.report_dir}/{ledger.LEDGER}"),
            KEY_CURRENT.planned(PHASE, f"{cfg.signing_key_path or 'no signing key'}, against the newest key of "
                                f"{options.report_dir}/{ledger.LEDGER}")]  # fmt: skip


def check_key(cfg: DrillConfig, drill, options: DrillOptions) -> None:
    """Recorded in the evidence: the drill's key is the ledger's current one. The session refuses
    a drill whose key is not before it starts (plugin: exit 2, nothing written), so here it holds
    unless the ledger changed between the two."""
    root, path = Path(options.report_dir), cfg.signing_key_path
    current = rotate.current_keyid(root) if (root / ledger.LEDGER).exists() else None
    mine = keys.keyid(keys.load_private(path).public_key()) if path else None
    message = rotate.key_problem(root, path) or ""
    drill.check(PHASE, KEY_CURRENT(), current or "any (no signed line yet)", mine or "unsigned drill",
                ok=not message, message=message)  # fmt: skip


def check_head(cfg: DrillConfig, drill, host, options: DrillOptions, say) -> None:
    """Record whether the report folder's ledger holds the line this target's last drill into that
    ledger wrote (a failed check stops the drill in preflight, before anything is touched). Another
    ledger (a second report folder, a CI workspace) is a warning naming the others, never a failure."""
    recorded = drill_state.recorded_head(cfg, host)
    if recorded is not None and isinstance(recorded.get("drills"), int):
        drill.preflight.drills_before = recorded["drills"]
    drill.preflight.sequence = drill_sequence(cfg, options, drill.preflight.drills_before)
    root = Path(options.report_dir)
    held = {hashlib.sha256(line).hexdigest() for line in ledger.lines(root)}
    where = f"{drill_state.head_path(cfg)} on {host.url}"
    line, actual, ok, message = f"nothing ({where} absent: a first drill)", "nothing to hold", True, ""
    if recorded is not None and "malformed" in recorded:
        line, actual, ok = "a ledger line drtests recorded", f"unreadable: {recorded['malformed']!r}", False
        message = f"{where} is not a record drtests wrote: remove it only if you know why"
    elif recorded is not None:
        heads, mine = drill_state.heads_of(recorded), ledger.identity(root)
        head = heads.get(mine or "") or heads.get("")
        others = "; ".join(f"ledger {k[:12]}... (drill {v.get('drill')}, {v.get('at')})" for k, v in heads.items()
                           if k and k != mine)  # fmt: skip
        if not held:
            line, actual = f"{len(heads)} ledger head(s)", "no ledger here (a new report folder)"
            drill.warnings.append(f"this report folder has no ledger, but {where} records this target's drills in "
                                  f"{others or 'another'}: the earlier drills' evidence is elsewhere (keep reports/ "
                                  "across runs)")  # fmt: skip
        elif head is None:
            line, actual = f"no head of ledger {mine[:12]}...", "a ledger new to this target"
            drill.warnings.append(f"this target's drills also went to other report folders ({others}): each "
                                  "ledger is checked against its own head")  # fmt: skip
        else:
            sha = str(head.get("sha256"))
            line = f"line {int(head.get('seq', 0)) + 1} (drill {head.get('drill')}, sha256 {sha[:16]}...)"
            ok = sha in held
            actual = "held" if ok else f"not in {root / ledger.LEDGER} ({len(held)} lines)"
            if not ok and options.ledger_lost:
                drill.preflight.ledger_lost = {"ledger": mine, "seq": head.get("seq"), "sha256": sha,
                                               "drill": head.get("drill"), "reason": options.ledger_lost}  # fmt: skip
                drill.warnings.append(f"{root / ledger.LEDGER} does not hold {line}; {options.flag('ledger-lost')} "
                                      f"given ({options.ledger_lost!r}): this drill's signed ledger line names the "
                                      "lost head and the reason, and the ledger goes on from here")  # fmt: skip
                ok, actual = True, "lost (named in this drill's ledger line)"
            elif not ok:
                message = (f"{root / ledger.LEDGER} does not hold {line}, which this target's last drill into this "
                           "ledger wrote: the report folder was replaced by an older copy, or lines were cut from "
                           "its ledger (give the folder the drills wrote to, with --report-dir; if that folder is "
                           f"truly lost: {options.flag('ledger-lost')} REASON)")  # fmt: skip
    drill.check(PHASE, HEAD_HELD(), line, actual, ok=ok, message=message)
    if ok and held and recorded is not None and actual == "held":
        say(f"the report folder holds this target's last ledger line ({line})")


def keep_on_target(drill, root: Path) -> str:
    """Record the drill's ledger line on the target (beside the lock), for the next drill to find
    in its report folder; what went wrong, in words (empty: kept, or nothing to keep). Only after
    the drill proved this folder holds the last line: else its own line would bless an older copy."""
    cfg, line = drill.config, ledger.line_of(root, drill.id)
    proven = any(c.name == HEAD_HELD() and c.verdict == "pass" for c in drill.checks if c.phase == PHASE)
    if line is None or not proven:
        return ""
    t = cfg.target
    try:
        host = TargetHost(t.url, t.sudo, t.ssh_config, t.ssh_identity_file, cfg.secret_names)
        drills = max(drill.preflight.drills_before + 1, ledger.drills_of_target(root, cfg.target_name))
        known = drill_state.recorded_head(cfg, host)
        known = None if known is None or "malformed" in known else known
        drill_state.record_head(cfg, host, str(ledger.identity(root)), line[0], line[1], drill.id, drills, known)
    except DrillError as exc:
        return f"the ledger head was not kept on the target ({exc}): the next drill cannot prove this folder is current"
    return ""
