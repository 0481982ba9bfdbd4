"""Every message a drill sends out: a JSON webhook with the drill's summary (alerts.webhook_url_env)
and notifications to people through Apprise (Slack, Teams, e-mail, Matrix, ...). The URLs come
from environment variables named in the config (they hold tokens, so they never live in the
file), and a failure to send is a warning, within an overall deadline."""

from __future__ import annotations

import http.client
import json
import re
import urllib.error
import urllib.parse
import urllib.request

from drtests.record.drill import Drill
from drtests.waiting import call_within


def message(drill: Drill, report: str, change: dict | None = None) -> tuple[str, str]:
    """(title, body) in words a person reads in a chat; `change`: what the drill did to the
    deficiency register (evidence "deficiencies"), so a reader knows whether a failure is new."""
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
    lines += register_lines(change)
    lines.append(f"report: {report}")
    return f"DR drill {verdict}: {cfg.target_name}", "\n".join(lines)


def register_lines(change: dict | None) -> list[str]:
    """New, recurring, closed and still-open deficiencies, a line each kind (keys named, at most 3)."""
    if not change or "unavailable" in change:
        return []
    lines = []
    for kind, said in (("opened", "NEW deficiency"), ("recurring", "RECURRING deficiency (fixed once, failing again)"),
                       ("closed", "closed deficiency"), ("still_open", "still open")):  # fmt: skip
        found = change.get(kind) or []
        if found:
            names = ", ".join(d["key"] for d in found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")
            lines.append(f"{said}: {names}")
    if lines and not change.get("verified"):
        lines.append("(deficiencies counted from unsigned drills: unverified)")
    return lines


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


TIMED_OUT = "timed out"


def send_webhook(url: str, summary: dict, timeout: float) -> str | None:
    """POST the summary as JSON; returns a problem in words, or None when it was accepted. The
    whole exchange gets `timeout` seconds (a receiver that drips bytes does not hold the drill's
    end), and no failure of the receiver is more than a warning."""
    hidden = "the URL is not shown: its path and query may hold a token"
    try:
        scheme = urllib.parse.urlsplit(url).scheme
    except ValueError:
        return f"webhook URL is not a URL ({hidden})"
    if scheme not in ("http", "https"):
        return (
            f"webhook URL must be http:// or https://, got {f'a {scheme}: URL' if scheme else 'a URL without a scheme'}"
        )

    def post() -> str | None:
        headers = {"Content-Type": "application/json", "User-Agent": "drtests"}
        try:
            request = urllib.request.Request(url, data=json.dumps(summary).encode(), method="POST", headers=headers)
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return None if 200 <= response.status < 300 else f"webhook answered HTTP {response.status}"
        except (ValueError, http.client.InvalidURL):  # their message repeats the URL
            return f"webhook URL is not valid ({hidden})"
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            if isinstance(getattr(exc, "reason", None), ValueError):  # an InvalidURL, wrapped: it repeats the URL
                return f"webhook URL is not valid ({hidden})"
            if isinstance(exc, TimeoutError) or isinstance(getattr(exc, "reason", None), TimeoutError):
                return TIMED_OUT  # the socket's timeout is the same deadline, met a moment earlier
            return f"webhook failed: {getattr(exc, 'reason', None) or exc!r}"

    done, problem = call_within(post, timeout, "drtests-webhook")
    return (
        problem
        if done and problem is not TIMED_OUT
        else f"webhook did not answer within {timeout:g}s (webhook_timeout)"
    )
