"""Report folders for unit tests, written the way drills write them: a Drill record turned into
evidence by drtests.record.evidence (a renamed evidence key breaks the tests that read them)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from drtests.config import DrillConfig, load
from drtests.hosts.host import FileFacts
from drtests.record.drill import PHASES, Drill
from drtests.record.results import Snapshot
from drtests.report.finish import write_folder


def config(tmp_path: Path, target: str, mode: str = "in-place", extra: str = "") -> DrillConfig:
    path = tmp_path / f"{target}-{mode}.toml"
    image = '[isolated]\nimage = "lab:1"\n' if mode != "in-place" else ""
    path.write_text(f'[drill]\nmode = "{mode}"\n[target]\nname = "{target}"\nurl = "ssh://{target}"\n{image}{extra}')
    return load(path)


def drill(cfg: DrillConfig, drill_id: str, started: str, verdict: str = "pass", gate: bool = False,
          backup_file: str = "", rto_s: float = 5.0, rpo_s: float = 60.0, snapshot: str = "") -> Drill:  # fmt: skip
    """A finished drill of `cfg` that started at `started` (UTC, ISO), passed or failed, with the
    backup file and snapshot it made (named as drills name theirs)."""
    epoch = datetime.fromisoformat(started.replace("Z", "+00:00")).timestamp()
    record = Drill(cfg, target=cfg.target.url, id=drill_id, started=started, started_epoch_ns=int(epoch * 1e9),
                   gate=gate, ended=started)  # fmt: skip
    for phase in PHASES:
        record.phase_ended(phase, "pass")
    record.phases["restore"].duration_s = rto_s
    record.restore.watermark_ns = record.started_epoch_ns - int(rpo_s * 1e9)
    if verdict == "fail":
        record.check("verify", "docs sts_metrics-2026.01.01", 10, 9, message="index sts_metrics-2026.01.01: 10, 9")
    path = backup_file or f"/opt/stackstate/backups/drtests-{drill_id}.graph"
    record.backup.artifact = FileFacts(path, 10, "0" * 64, "stackstate", "stackstate", "0644", started)
    name = snapshot or f"drtests-{drill_id}".lower()
    record.backup.snapshot = Snapshot("sts-backup", name, None, "SUCCESS", [], False,
                                      {"total": 1, "failed": 0, "successful": 1}, [], started, started, 1)  # fmt: skip
    return record


def write(reports: Path, record: Drill) -> Path:
    """The drill's folder (evidence.json, report.html, its statement) and its ledger line, as a
    drill's final write makes them."""
    reports.mkdir(parents=True, exist_ok=True)
    return write_folder(record, reports, final=True).folder
