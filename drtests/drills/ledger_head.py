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
from drtests.hosts.host import TargetHost
from drtests.options import DrillOptions
from drtests.report import ledger
from drtests.steps import check, drill_sequence

PHASE = "preflight"
HEAD_HELD = check("report folder holds this target's last ledger line")


def plan(cfg: DrillConfig, options: DrillOptions) -> Planned:
    return HEAD_HELD.planned(PHASE, f"{drill_state.head_path(cfg)} on the target, against "
                             f"{options.report_dir}/{ledger.LEDGER}")  # fmt: skip


def check_head(cfg: DrillConfig, drill, host, options: DrillOptions, say) -> None:
    """Record whether the report folder holds the line this target last recorded (a failed check
    stops the drill in preflight, before anything is touched)."""
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
        sha = str(recorded.get("sha256"))
        line = f"line {int(recorded.get('seq', 0)) + 1} (drill {recorded.get('drill')}, sha256 {sha[:16]}...)"
        ok = not held or sha in held
        actual = "held" if held and ok else "no ledger here (a new report folder)" if ok else \
            f"not in {root / ledger.LEDGER} ({len(held)} lines)"  # fmt: skip
        if not held:
            drill.warnings.append(
                f"this report folder has no ledger, but {where} records {line}: the "
                "earlier drills' evidence is elsewhere (keep reports/ across runs)"
            )
        elif not ok:
            message = (f"{root / ledger.LEDGER} does not hold {line}, which this target's last drill wrote: the "
                       "report folder was replaced by an older copy, or lines were cut from its ledger (give the "
                       "folder the drills wrote to, with --report-dir)")  # fmt: skip
    drill.check(PHASE, HEAD_HELD(), line, actual, ok=ok, message=message)
    if ok and held and recorded is not None:
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
        drill_state.record_head(cfg, host, line[0], line[1], drill.id, drills)
    except DrillError as exc:
        return f"the ledger head was not kept on the target ({exc}): the next drill cannot prove this folder is current"
    return ""
