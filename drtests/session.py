"""DrillSession: the one object the plugin registers for a drill run. Its methods are the hooks
that order the phases, record each phase's outcome in its target's Drill, and finish every drill
(evidence, summary) after the safety steps ran.

A fleet (a folder of configs, or [[fleet]] entries) drills several installs in one run: the
session fixtures are parametrized per target, so each target has its own Drill, lock, safety
steps and evidence folder; with pytest-xdist (``-n N``) each target's phases stay together on one
worker (drtests.fleet_scheduling) and the targets are drilled in parallel.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pytest

from drtests.config import DrillConfig
from drtests.drills import ledger_head
from drtests.errors import DrillError, Unreachable
from drtests.options import DrillOptions
from drtests.record.drill import PHASES, Drill
from drtests.report.finish import DrillOutcome, finish_drill
from drtests.steps import PHASE_COMPLETED

NAME = "drtests-session"

UNSIGNED_WARNING = (
    "UNSIGNED: no signing key (evidence.signing_key_file or $DRTESTS_SIGNING_KEY_FILE), so anyone can edit this "
    "evidence unseen and verify-evidence fails it; `drtests keygen --out DIR` makes a key pair"
)


class DrillSession:
    def __init__(self, configs: list[DrillConfig], options: DrillOptions) -> None:
        self.configs, self.options = configs, options
        self.names = [cfg.target_name for cfg in configs]
        self.drills: dict[str, Drill] = {}  # by target name, created when its drill starts
        self.outcomes: list[DrillOutcome] = []  # one per finished drill, from this process or xdist workers

    @staticmethod
    def find(config: pytest.Config) -> DrillSession | None:
        return config.pluginmanager.get_plugin(NAME)

    @staticmethod
    def of(config: pytest.Config) -> DrillSession:
        session = DrillSession.find(config)
        if session is None:
            raise pytest.UsageError("no drill config: pass --dr-config")
        return session

    def drill_of(self, cfg: DrillConfig) -> Drill:
        """The Drill record of one target, created when its drill starts (its clock starts then)."""
        if cfg.target_name not in self.drills:
            self.drills[cfg.target_name] = drill = Drill(cfg, target=cfg.target.url, gate=self.options.gate)
            if cfg.signing_key_path is None:
                drill.warnings.append(UNSIGNED_WARNING)
        return self.drills[cfg.target_name]

    def config_of(self, item: pytest.Item) -> DrillConfig | None:
        """The fleet member an item drills: its dr_config parameter, or the only config."""
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "dr_config" in callspec.params:
            return callspec.params["dr_config"]
        return self.configs[0] if len(self.configs) == 1 else None

    def item_drill(self, item: pytest.Item) -> Drill | None:
        cfg = self.config_of(item)
        return self.drill_of(cfg) if cfg is not None else None

    # collection ---------------------------------------------------------------------------
    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """A fleet: every test that uses the drill's fixtures runs once per target."""
        if len(self.configs) > 1 and "dr_config" in metafunc.fixturenames:
            metafunc.parametrize("dr_config", self.configs, indirect=True, scope="session", ids=self.names)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log):
        """pytest-xdist (-n N): one worker per target at a time, each target's phases in order."""
        if config.getoption("dist") == "each":
            return None
        from drtests.fleet_scheduling import TargetScheduling

        return TargetScheduling(config, log, self.names)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        """Target by target; drill phases in order; a user's dr_check runs right after the built-in
        phase it names."""

        def key(item: pytest.Item) -> tuple[int, int, int]:
            placed, cfg = phase_of(item), self.config_of(item)
            if placed is None:
                return len(self.names) + 1, len(PHASES), 0
            phase, builtin = placed
            if phase not in PHASES:
                raise pytest.UsageError(f"{item.nodeid}: dr_check phase {phase!r} is not one of {', '.join(PHASES)}")
            return self.names.index(cfg.target_name) if cfg else len(self.names), PHASES.index(phase), int(not builtin)

        items.sort(key=key)

    # recording ----------------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> None:
        placed = phase_of(item)
        if placed and placed[1] and (drill := self.item_drill(item)):
            drill.phase_started(placed[0])

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
        report = yield
        placed, drill = phase_of(item), self.item_drill(item)
        if not placed or drill is None or (report.when != "call" and not (report.failed or report.skipped)):
            return report
        if call.excinfo is not None and (message := user_message(call.excinfo.value, drill.config)):
            report.longrepr = message  # the user reads what went wrong, not our traceback
            if call.excinfo.errisinstance(Unreachable) and not drill.checks_after_preflight():
                drill.infrastructure_error = message
        phase, builtin = placed
        if report.skipped:
            longrepr = report.longrepr
            status, message = (
                "skipped",
                (str(longrepr[2]).removeprefix("Skipped: ") if isinstance(longrepr, tuple) else ""),
            )
        else:
            status, message = ("pass", "") if report.passed else ("fail", first_line(report))
        if builtin:
            if status == "fail" and not drill.failed_checks(phase):  # stopped by an error, not by a check
                drill.check(phase, PHASE_COMPLETED(phase=phase), "completed", f"stopped: {message}", ok=False,
                            message=message)  # fmt: skip
            drill.phase_ended(phase, status, message)
            item.user_properties.extend(junit_figures(drill, phase, status))
        elif status == "skipped":  # a user's check that did not run proved nothing
            drill.unproven(phase, item.name, f"{item.name} was skipped: {message or 'no reason given'}")
        else:
            drill.check(phase, item.name, "pass", status, message=message)
        return report

    # the end ------------------------------------------------------------------------------
    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Runs after session fixtures were torn down, so the evidence includes the safety steps."""
        config = session.config
        for drill in self.drills.values():
            if drill.phases["preflight"].status == "pending":
                continue
            outcome = finish_drill(drill, self.options)
            if said := ledger_head.keep_on_target(drill, Path(self.options.report_dir)):
                outcome.lines.insert(-1, f"  WARNING: {said}")
            self.outcomes.append(outcome)
            if hasattr(config, "workeroutput"):  # an xdist worker: the controller prints the summary
                config.workeroutput.setdefault("drtests", []).append(asdict(outcome))

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        """xdist controller: keep the drills a worker finished, for the summary and the exit code."""
        self.outcomes += [DrillOutcome(**o) for o in getattr(node, "workeroutput", {}).get("drtests", [])]

    def pytest_terminal_summary(self, terminalreporter, exitstatus: int, config: pytest.Config) -> None:
        if not self.outcomes or hasattr(config, "workeroutput"):
            return
        terminalreporter.section("drtests")
        outcomes = sorted(self.outcomes, key=lambda o: o.target)
        for outcome in outcomes:
            for line in outcome.lines:
                terminalreporter.write_line(line)
        if len(outcomes) > 1:
            terminalreporter.write_line("fleet: " + ", ".join(f"{o.target} {o.verdict.upper()}" for o in outcomes))


def phase_of(item: pytest.Item) -> tuple[str, bool] | None:
    """(phase, built-in?) of a drill phase test or a user's dr_check test; None for other tests."""
    if marker := item.get_closest_marker("dr_phase"):
        return marker.args[0], True
    if marker := item.get_closest_marker("dr_check"):
        return (marker.args[0] if marker.args else marker.kwargs.get("phase", "verify")), False
    return None


def junit_figures(drill: Drill, phase: str, status: str) -> list[tuple[str, object]]:
    """A phase's figures for JUnit XML and other CI formats (read from the teardown report)."""
    figures = [("drill_id", drill.id), ("phase_status", status), ("phase_duration_s", drill.phases[phase].duration_s)]
    objectives = drill.config.objectives
    if phase == "restore" and drill.rto_seconds is not None:
        figures += [("rto_s", drill.rto_seconds), ("rto_objective_s", objectives.rto_seconds)]
    if phase == "verify" and drill.rpo_seconds is not None:
        figures += [("rpo_s", drill.rpo_seconds), ("rpo_objective_s", objectives.rpo_seconds)]
    return figures


def user_message(exc: BaseException, cfg: DrillConfig) -> str | None:
    """One line for the failures a drill expects to meet; None for bugs (they keep their traceback)."""
    from drtests.es_errors import describe

    return str(exc) if isinstance(exc, DrillError) else describe(exc, cfg.elasticsearch.url)


def first_line(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    return (crash.message if crash else report.longreprtext.strip()).strip().removeprefix("Failed: ")
