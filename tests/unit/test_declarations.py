"""Each step and check is declared once (drtests.steps.Declared): the plan lists it and the drill
records it under the same name. Checked on the product's source and on the plans of the shipped
configs; an end-to-end test (assert_drill_followed_its_plan) compares a real drill's record too."""

from __future__ import annotations

import ast
import importlib
import itertools
from pathlib import Path

import pytest

from drtests.config import load, parse_overrides
from drtests.options import DrillOptions
from drtests.plan import PHASE_MODULES, plan
from drtests.steps import Declared

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ROOT / "drtests"
NAME_ARGUMENT = {"check": 1, "step": 1, "timed_step": 1, "expect": 2}  # where each recording call takes the name
# recorded only when it happens, so no plan lists them: what an earlier drill left (the lock, the
# restore ledger) and --recover's steps, an import that timed out, a phase stopped by an error
OUTCOME_ONLY = {
    "drill lock free", "no leftovers of an interrupted drill", "restore ledger names no other cluster",
    "restore ledger proves every name it holds", "restore cluster reachable",
    "every command left running is proven ours",
    "recover: end the export/import of drill {drill} (pid {pid})", "recover: take over drill lock {lock}",
    "recover: start {unit}", "recover: delete restore indices {indices}", "recover: remove restore host {host}",
    "import ended", "{phase} phase completed",
}  # fmt: skip
VARIANTS = ["", "elasticsearch.full_verify=1/7", "restore_cluster.url=http://127.0.0.1:9299",
            "existing.pick=random", "stackstate.version_command=true", "alerts.stale_backup=fail",
            "elasticsearch.restore=replace", "elasticsearch.enabled=false",
            "elasticsearch.restore_share=1/4"]  # fmt: skip


def calls(path: Path):
    """(call, the called name, called as a plain name?) for every call in the file."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            yield node, called, isinstance(func, ast.Name)


def recorded_names(path: Path) -> list[str]:
    """Each name a recording call gets as a literal (a string or an f-string) instead of a declaration."""
    found = []
    for node, called, plain in calls(path):
        at = NAME_ARGUMENT.get(called)
        if at is None or (plain and called in ("check", "step")) or len(node.args) <= at:  # step("x"): declares
            continue
        if isinstance(node.args[at], ast.JoinedStr | ast.Constant):
            found.append(f"{path.name}:{node.lineno}: {ast.unparse(node.args[at])}")
    return found


def declarations() -> dict[str, Declared]:
    """Every declared step and check of the product, by template (a template declared twice fails)."""
    found: dict[str, Declared] = {}
    for path in sorted(p for p in PRODUCT.rglob("*.py") if p.name != "__main__.py"):  # that one runs drtests
        module = importlib.import_module(
            ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        )
        for value in vars(module).values():
            if isinstance(value, Declared):
                assert found.get(value.template, value) is value, f"{value.template!r} is declared twice"
                found[value.template] = value
    return found


def test_no_step_or_check_is_named_outside_its_declaration() -> None:
    assert [hit for path in sorted(PRODUCT.rglob("*.py")) for hit in recorded_names(path)] == []


def test_the_check_finds_a_literal_name(tmp_path: Path) -> None:
    source = tmp_path / "phase.py"
    source.write_text('drill.check(PHASE, "node active again", 1, 1)\nexpect(drill, PHASE, f"x {y}", 1, 1)\n')
    assert len(recorded_names(source)) == 2


def shipped_plans(tmp_path: Path) -> list[list]:
    plans = []
    for config, variant in itertools.product(sorted((ROOT / "fixtures" / "drills").glob("*.toml")), VARIANTS):
        sets = ["isolated.image=lab:1", *([variant] if variant else [])]
        try:
            cfg = load(config, parse_overrides(sets))
        except Exception:  # a variant a config refuses (e.g. replace in an existing drill): not a plan
            continue
        for gate, keep in ((False, False), (True, True)):
            plans.append(plan(cfg, DrillOptions(report_dir=str(tmp_path), gate=gate, keep=keep)))
    return plans


def test_every_declaration_is_in_some_plan_and_every_planned_name_is_declared(tmp_path: Path) -> None:
    declared = declarations()
    plans = shipped_plans(tmp_path)
    assert len(plans) > 20
    planned = {p.name for one in plans for p in one}
    templates = {d.template: d for d in declared.values()}

    def declared_as(name: str) -> bool:
        return any(name == t or _matches(t, name) for t in templates)

    assert sorted(n for n in planned if not declared_as(n)) == []
    unplanned = sorted(t for t in templates if t not in OUTCOME_ONLY and not any(_matches(t, n) for n in planned))
    assert unplanned == []


def _matches(template: str, name: str) -> bool:
    """`name` is `template` with each {placeholder} filled."""
    import re

    pattern = re.escape(template)
    pattern = re.sub(r"\\\{\w+\\\}", ".+", pattern)
    return re.fullmatch(pattern, name) is not None


@pytest.mark.parametrize("module", PHASE_MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_each_phase_plans_only_its_own_phase(module, tmp_path: Path) -> None:
    cfg = load(ROOT / "fixtures" / "drills" / "lab-local.toml")
    phase = module.PHASE
    assert {p.phase for p in module.plan(cfg, DrillOptions(report_dir=str(tmp_path)))} == {phase}


def constant_checks(path: Path) -> list[str]:
    """Each check whose expected and actual values are both literals: it compares by construction."""
    found = []
    for node, called, plain in calls(path):
        at = {"check": 2, "expect": 3}.get(called)
        if at is None or plain and called == "check" or len(node.args) < at + 2:
            continue
        expected, actual = node.args[at], node.args[at + 1]
        if isinstance(expected, ast.Constant) and isinstance(actual, ast.Constant):
            found.append(f"{path.name}:{node.lineno}: {ast.unparse(expected)} vs {ast.unparse(actual)}")
    return found


def test_no_check_compares_two_literals(tmp_path: Path) -> None:
    """A check that could not fail is not a check ("node active again": "active" vs "active")."""
    assert [hit for path in sorted(PRODUCT.rglob("*.py")) for hit in constant_checks(path)] == []
    source = tmp_path / "phase.py"
    source.write_text('drill.check(phase, NODE_ACTIVE_AGAIN(), "active", "active")\n')
    assert constant_checks(source) == ["phase.py:1: 'active' vs 'active'"]
