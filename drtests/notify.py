"""Notifications to people through Apprise (Slack, Teams, e-mail, Matrix, a JSON webhook, ...):
the URLs come from an environment variable named in the config (they hold tokens, so they never
live in the file), and a failure to notify is a warning, within an overall deadline."""

from __future__ import annotations

import re

from drtests.drill import Drill
from drtests.waiting import call_within


def message(drill: Drill, report: str) -> tuple[str, str]:
    """(title, body) in words a person reads in a chat."""
    cfg, verdict = drill.config, drill.verdict.upper()
    lines = [f"Disaster-recovery drill of {cfg.target_name}: {verdict}"]
    for label, measured, objective in (("RTO", drill.rto_seconds, cfg.objectives.rto_seconds),
                                       ("RPO", drill.rpo_seconds, cfg.objectives.rpo_seconds)):  # fmt: skip
        if measured is None:
            lines.append(f"{label}: not measured (objective {objective:g} s)")
        else:
            met = "met" if measured <= objective else "MISSED"
            lines.append(f"{label}: {measured:.1f} s, objective {objective:g} s ({met})")
    failed = drill.failed_checks()
    for check in failed[:3]:
        lines.append(f"failed: {check.phase}/{check.name}: {check.message}")
    if len(failed) > 3:
        lines.append(f"... and {len(failed) - 3} more failed check(s)")
    lines.append(f"report: {report}")
    return f"DR drill {verdict}: {cfg.target_name}", "\n".join(lines)


def notify(urls: str, title: str, body: str, failed: bool, deadline: float) -> str | None:
    """Send to every Apprise URL in `urls` (space or comma separated); a problem in words, or None."""
    import apprise

    wanted = [url for url in re.split(r"[\s,]+", urls) if url]
    sender = apprise.Apprise()
    unknown = [url.split("://", 1)[0] for url in wanted if not sender.add(url)]
    if unknown:  # a URL may hold a token: name only its scheme
        return f"notification: not an Apprise URL ({', '.join(f'{s}://...' for s in unknown)})"

    def send() -> bool | str:
        try:
            kind = apprise.NotifyType.FAILURE if failed else apprise.NotifyType.SUCCESS
            return bool(sender.notify(title=title, body=body, notify_type=kind))
        except Exception as exc:  # a notification must never end a drill's evidence
            return f"{type(exc).__name__}: {exc}"

    done, sent = call_within(send, deadline, "drtests-notify")
    if not done:
        return f"notification did not go out within {deadline:g}s (alerts.notify_timeout)"
    if sent is True:
        return None
    return f"notification failed for {len(wanted)} URL(s){': ' + sent if isinstance(sent, str) else ''}"
