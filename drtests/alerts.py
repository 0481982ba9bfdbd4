"""Alerts: backups older than the RPO objective (found in preflight), and a webhook that gets a
JSON summary of every drill."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from drtests.config import DrillConfig
from drtests.target.host import TargetHost, quote


def newest_backup_age(cfg: DrillConfig, host: TargetHost) -> tuple[str, float] | None:
    """(path, age in seconds) of the newest *.graph file in the backup folder, or None."""
    folder = cfg.path(cfg.stackstate.backup_dir)
    found = host.run(f"ls -t {quote(folder)}/*.graph 2>/dev/null | head -n 1", 60).stdout.strip()
    if not found:
        return None
    mtime = host.run(f"stat -c %Y {quote(found)}", 60).stdout.strip()
    now = host.run("date +%s", 60).stdout.strip()
    return found, float(int(now) - int(mtime))


def newest_snapshot_age(es, repository: str) -> tuple[str, float] | None:
    rows = es.cat.snapshots(repository=repository, format="json", s="end_epoch:desc")
    done = [r for r in rows if r.get("status") == "SUCCESS"]
    if not done:
        return None
    return done[0]["id"], time.time() - int(done[0]["end_epoch"])


def stale_backup_findings(cfg: DrillConfig, host: TargetHost, es) -> list[str]:
    """What is older than the RPO objective (or missing), in words for the evidence."""
    limit = cfg.objectives.rpo_seconds
    findings = []
    backup = newest_backup_age(cfg, host)
    if backup is None:
        findings.append(f"no backup file (*.graph) in {cfg.path(cfg.stackstate.backup_dir)} on {host.url}")
    elif backup[1] > limit:
        findings.append(f"the newest backup file {backup[0]} is {backup[1] / 3600:.1f} h old, older than the RPO "
                        f"objective ({limit / 3600:.1f} h)")  # fmt: skip
    if es is not None:
        snapshot = newest_snapshot_age(es, cfg.elasticsearch.repository)
        if snapshot is None:
            findings.append(f"no successful snapshot in repository {cfg.elasticsearch.repository}")
        elif snapshot[1] > limit:
            findings.append(f"the newest snapshot {snapshot[0]} is {snapshot[1] / 3600:.1f} h old, older than the RPO "
                            f"objective ({limit / 3600:.1f} h)")  # fmt: skip
    return findings


def send_webhook(url: str, summary: dict, timeout: float) -> str | None:
    """POST the summary as JSON; returns a problem in words, or None when it was accepted."""
    request = urllib.request.Request(url, data=json.dumps(summary).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "drtests"})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return None if 200 <= response.status < 300 else f"webhook answered HTTP {response.status}"
    except (urllib.error.URLError, OSError) as exc:
        return f"webhook failed: {getattr(exc, 'reason', exc)}"
