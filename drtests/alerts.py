"""Alerts: backups older than the RPO objective (found in preflight), and a webhook that gets a
JSON summary of every drill."""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from fnmatch import fnmatch

from drtests.config import DrillConfig
from drtests.hosts.host import TargetHost, quote
from drtests.waiting import call_within


def newest_backup_age(cfg: DrillConfig, host: TargetHost) -> tuple[str, float] | None:
    """(path, age in seconds) of the newest *.graph file in the backup folder that a drill did not
    make, or None."""
    folder = cfg.path(cfg.stackstate.backup_dir)
    # the installation's own backups (the nightly sts-backup.sh files): drill-made ones do not count
    found = host.run(f"ls -t {quote(folder)}/*.graph 2>/dev/null | grep -v '/drtests-[^/]*$' | head -n 1", 60)
    found = found.stdout.strip()
    if not found:
        return None
    mtime = host.run(f"stat -c %Y {quote(found)}", 60).stdout.strip()
    now = host.run("date +%s", 60).stdout.strip()
    return found, float(int(now) - int(mtime))


def newest_snapshot_age(es, repository: str, indices: str) -> tuple[str, float] | None:
    """(name, age in seconds) of the newest successful snapshot holding any of the install's
    indices (a repository shared by a fleet also holds the other installs' snapshots), or None.
    Looks at the 500 newest snapshots of the repository."""
    patterns = [p.strip() for p in indices.split(",") if p.strip() and not p.strip().startswith("-")]
    found = es.snapshot.get(repository=repository, snapshot="_all",
                            params={"sort": "start_time", "order": "desc", "size": 500})  # fmt: skip
    for snap in found["snapshots"]:
        if snap["state"] == "SUCCESS" and any(fnmatch(i, p) for i in snap["indices"] for p in patterns):
            return snap["snapshot"], time.time() - snap["end_time_in_millis"] / 1000
    return None


def stale_backup_findings(cfg: DrillConfig, host: TargetHost, es) -> list[str]:
    """What is older than the RPO objective (or missing), in words for the evidence."""
    limit = cfg.objectives.rpo_seconds
    findings = []
    backup = newest_backup_age(cfg, host)
    if backup is None:
        folder = cfg.path(cfg.stackstate.backup_dir)
        findings.append(f"no backup of the installation's own (a *.graph file not made by a drill, such as the "
                        f"nightly sts-backup.sh writes) in {folder} on {host.url}")  # fmt: skip
    elif backup[1] > limit:
        findings.append(f"the newest backup file {backup[0]} is {backup[1] / 3600:.1f} h old, older than the RPO "
                        f"objective ({limit / 3600:.1f} h)")  # fmt: skip
    if es is not None:
        snapshot = newest_snapshot_age(es, cfg.elasticsearch.repository, cfg.elasticsearch.indices)
        if snapshot is None:
            findings.append(f"no successful snapshot of {cfg.elasticsearch.indices} in repository "
                            f"{cfg.elasticsearch.repository}")  # fmt: skip
        elif snapshot[1] > limit:
            findings.append(f"the newest snapshot {snapshot[0]} is {snapshot[1] / 3600:.1f} h old, older than the RPO "
                            f"objective ({limit / 3600:.1f} h)")  # fmt: skip
    return findings


def send_webhook(url: str, summary: dict, timeout: float) -> str | None:
    """POST the summary as JSON; returns a problem in words, or None when it was accepted. The
    whole exchange gets `timeout` seconds (a receiver that drips bytes does not hold the drill's
    end), and no failure of the receiver is more than a warning."""
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("http", "https"):
        return (
            f"webhook URL must be http:// or https://, got {f'a {scheme}: URL' if scheme else 'a URL without a scheme'}"
        )

    def post() -> str | None:
        headers = {"Content-Type": "application/json", "User-Agent": "drtests"}
        request = urllib.request.Request(url, data=json.dumps(summary).encode(), method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return None if 200 <= response.status < 300 else f"webhook answered HTTP {response.status}"
        except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
            return f"webhook failed: {getattr(exc, 'reason', None) or exc!r}"

    done, problem = call_within(post, timeout, "drtests-webhook")
    return problem if done else f"webhook did not answer within {timeout:g}s (webhook_timeout)"
