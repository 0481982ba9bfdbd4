"""When was recovery last proven, per target: `drtests status` for cron and monitoring, and the
age column of index.html. Read from the history (history.jsonl), newest drill per target."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from drtests.record.store import DrillSummary, by_target
from drtests.words import Verdict

DEFAULT_MAX_AGE_S = 35 * 86400  # a monthly drill, with a few days' slack


def age_in_words(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def started_at(entry: DrillSummary) -> datetime:
    return datetime.fromisoformat(entry.started.replace("Z", "+00:00"))


@dataclass
class TargetFreshness:
    target: str
    last: DrillSummary  # the newest drill
    last_pass: DrillSummary | None  # the newest passing drill
    now: datetime

    @property
    def pass_age_s(self) -> float | None:
        return (self.now - started_at(self.last_pass)).total_seconds() if self.last_pass else None

    def fresh(self, max_age_s: float) -> bool:
        return self.pass_age_s is not None and self.pass_age_s <= max_age_s

    def line(self, max_age_s: float) -> str:
        age = age_in_words((self.now - started_at(self.last)).total_seconds())
        passed = (f"last pass {self.last_pass.drill_id} {age_in_words(self.pass_age_s)} ago" if self.last_pass
                  else "never passed")  # fmt: skip
        state = "OK" if self.fresh(max_age_s) else "OVERDUE"
        return (f"{state:7} {self.target}: last drill {self.last.drill_id} {self.last.verdict.upper()} "
                f"{age} ago; {passed} (max age {age_in_words(max_age_s)})")  # fmt: skip


def freshness(entries: list[DrillSummary], now: datetime | None = None) -> list[TargetFreshness]:
    now = now or datetime.now(UTC)
    found = []
    for target, rows in by_target(entries):
        rows = sorted(rows, key=started_at)
        passing = [row for row in rows if row.verdict == Verdict.PASS]
        found.append(TargetFreshness(target, rows[-1], passing[-1] if passing else None, now))
    return found
