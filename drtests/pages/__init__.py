"""The HTML pages of a report folder: a drill's report.html, the index of every drill, a pack's
summary. One Jinja environment, StrictUndefined everywhere: a template that names a value the
page was not given fails the render instead of printing nothing."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import jinja2


def shown(value: object) -> str:
    """A value as a reader reads it: yes/no, a dash for nothing, "key: value" pairs, not Python."""
    if value is True or value is False:
        return "yes" if value else "no"
    if value is None:
        return "—"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {shown(v)}" for k, v in value.items()) or "none"
    if isinstance(value, list):
        return ", ".join(shown(v) for v in value) or "none"
    return str(value)


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("drtests.pages", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined)  # fmt: skip
    env.filters["shown"] = shown
    return env


def render(template: str, **values: object) -> str:
    return environment().get_template(template).render(**values)


def drill_page(evidence: dict) -> str:
    """report.html: one drill, readable by someone who never saw the tool."""
    return render("report.html.j2", e=evidence)


def signoffs_page(evidence: dict, signoffs: list[dict]) -> str:
    """signoffs/index.html: who accepted the drill's result, beside (never inside) what it signed."""
    return render("signoffs.html.j2", e=evidence, signoffs=signoffs)


def index_page(entries: list, groups: list, ages: dict, present: set[str], max_age_s: float,
               age_in_words: Callable[[float], str], full_coverage: Callable[[list], str | None],
               restore_coverage: Callable[[list], str | None],
               graph_coverage: Callable[[list], str | None]) -> str:  # fmt: skip
    """index.html: every drill of the folder, per target, with RTO/RPO trends and freshness."""
    return render("index.html.j2", entries=entries, newest_first=list(reversed(entries)), groups=groups, ages=ages,
                  age_in_words=age_in_words, full_coverage=full_coverage, restore_coverage=restore_coverage,
                  graph_coverage=graph_coverage,
                  max_age_s=max_age_s, present=present)  # fmt: skip


def pack_page(targets: list[dict], period: dict, count: int, findings: list[dict] = (),
              register: dict | None = None) -> str:  # fmt: skip
    """summary.html of an evidence pack: what an auditor reads first."""
    return render("pack.html.j2", targets=targets, period=period, count=count, findings=findings,
                  register=register or {"deficiencies": []})  # fmt: skip
