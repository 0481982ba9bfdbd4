"""pytest plugin (entry point pytest11: drtests).

With a drill config (``--dr-config`` or the ``dr_config`` ini key) it collects the built-in drill
(drtests/drills/phase_*.py) as ordered tests, offers the drill's fixtures to user checks, and
writes the evidence at the end of the session, after the safety steps ran.

A fleet (a folder of configs, or [[fleet]] entries) drills several installs in one run: the
session fixtures are parametrized per target, so each target has its own Drill, lock, safety
steps and evidence folder; with pytest-xdist (``-n N``) each target's phases stay together on one
worker (drtests.fleet_scheduling) and the targets are drilled in parallel.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from drtests import config as drill_config
from drtests.drill import PHASES, Drill
from drtests.errors import ConfigError, DrillError, Unreachable
from drtests.hosts.host import TargetHost
from drtests.hosts.logtail import LogWindow
from drtests.hosts.service import Service, node_service, stackgraph_service
from drtests.progress import Progress
from drtests.safety import Safety

DRILLS_DIR = Path(__file__).resolve().parent / "drills"
CONFIGS_KEY = pytest.StashKey[list[drill_config.DrillConfig]]()
DRILLS_KEY = pytest.StashKey[dict[str, Drill]]()  # by target name, created when its drill starts
RESULTS_KEY = pytest.StashKey[list[dict]]()  # one per finished drill, from this process or xdist workers


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("drtests", "disaster-recovery drills (drtests)")
    group.addoption(
        "--dr-config",
        metavar="TOML|DIR",
        help="drill config file (or a folder of them: a fleet); given, the built-in drill runs",
    )
    group.addoption("--dr-report-dir", metavar="DIR", help="where evidence goes (default: reports/)")
    group.addoption(
        "--dr-allow-destructive",
        action="store_true",
        default=None,
        help="allow an in-place restore to overwrite the target's graph (and ES indices in replace mode)",
    )
    group.addoption(
        "--dr-keep",
        action="store_true",
        default=None,
        help="keep restored indices (and disposable hosts) for inspection",
    )
    group.addoption(
        "--dr-set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one config key (repeatable); VALUE takes the type of the key",
    )
    group.addoption(
        "--dr-recover",
        action="store_true",
        default=None,
        help="let preflight undo what an interrupted drill left: stale lock, stopped node, restore indices",
    )
    group.addoption(
        "--dr-gate",
        action="store_true",
        default=None,
        help="pre-upgrade gate: versions must be known and match; print the rollback point",
    )
    parser.addini("dr_config", "drill config file (as --dr-config)")
    parser.addini("dr_report_dir", "evidence folder (as --dr-report-dir)", default="reports")
    parser.addini("dr_allow_destructive", "as --dr-allow-destructive", type="bool", default=False)
    parser.addini("dr_keep", "as --dr-keep", type="bool", default=False)
    parser.addini("dr_recover", "as --dr-recover", type="bool", default=False)
    parser.addini("dr_gate", "as --dr-gate", type="bool", default=False)


def option(config: pytest.Config, name: str) -> object:
    """A command-line option wins over the ini key of the same name."""
    value = config.getoption(f"dr_{name}")
    return config.getini(f"dr_{name}") if value is None else value


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "dr_phase(name): a built-in drill phase (drtests)")
    config.addinivalue_line(
        "markers", "dr_check(phase): a user check that runs in a drill phase, after the built-in one"
    )
    source = option(config, "config")
    if not source:
        return
    try:
        overrides = drill_config.parse_overrides(config.getoption("dr_set"))
        config.stash[CONFIGS_KEY] = drill_config.load_fleet(source, overrides)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[DRILLS_KEY] = {}
    config.stash[RESULTS_KEY] = []
    if str(DRILLS_DIR) not in config.args:
        config.args.append(str(DRILLS_DIR))
    # SIGTERM (CI cancelling a job) unwinds like Ctrl-C, so the safety steps run.
    signal.signal(signal.SIGTERM, _interrupt)
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        global _XDIST_CONTROLLER
        _XDIST_CONTROLLER = True
        _wait_for_workers_safety(config)


def _interrupt(signum: int, frame: object) -> None:
    for worker in _xdist_workers():  # CI signals the controller only: the workers hold the drills
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker, signal.SIGINT)
    raise KeyboardInterrupt(signal.Signals(signum).name)


_XDIST_CONTROLLER = False  # set in pytest_configure: this process hands drills to xdist workers


def _xdist_workers() -> list[int]:
    """Child processes of an xdist controller (its workers); none elsewhere."""
    if not _XDIST_CONTROLLER:
        return []
    children = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children")
    try:
        return [int(pid) for pid in children.read_text().split()]
    except OSError:
        return []


def _wait_for_workers_safety(config: pytest.Config) -> None:
    """An interrupted fleet: xdist gives its workers 10 s to end before killing them; a worker may
    be restarting a node or ending an export, so it gets as long as its safety steps may take."""
    try:
        from xdist.workermanage import NodeManager
    except ImportError:
        return
    patience = max(cfg.service.restart_timeout + cfg.service.timeout for cfg in config.stash[CONFIGS_KEY]) + 60
    NodeManager.EXIT_TIMEOUT = max(NodeManager.EXIT_TIMEOUT, patience)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    if file_path.parent == DRILLS_DIR and file_path.name.startswith("phase_") and file_path.suffix == ".py":
        return pytest.Module.from_parent(parent, path=file_path)
    return None


def _phase_of(item: pytest.Item) -> tuple[str, bool] | None:
    if marker := item.get_closest_marker("dr_phase"):
        return marker.args[0], True
    if marker := item.get_closest_marker("dr_check"):
        return (marker.args[0] if marker.args else marker.kwargs.get("phase", "verify")), False
    return None


def _config_of(item: pytest.Item) -> drill_config.DrillConfig | None:
    """The fleet member an item drills: its dr_config parameter, or the only config."""
    configs = item.config.stash.get(CONFIGS_KEY, None)
    if not configs:
        return None
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "dr_config" in callspec.params:
        return callspec.params["dr_config"]
    return configs[0] if len(configs) == 1 else None


def drill_of(config: pytest.Config, cfg: drill_config.DrillConfig) -> Drill:
    """The Drill record of one target, created when its drill starts (its clock starts then)."""
    drills = config.stash[DRILLS_KEY]
    if cfg.target_name not in drills:
        drills[cfg.target_name] = Drill(cfg, target=cfg.target.url)
    return drills[cfg.target_name]


def _item_drill(item: pytest.Item) -> Drill | None:
    cfg = _config_of(item)
    return drill_of(item.config, cfg) if cfg is not None else None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A fleet: every test that uses the drill's fixtures runs once per target."""
    configs = metafunc.config.stash.get(CONFIGS_KEY, None)
    if configs and len(configs) > 1 and "dr_config" in metafunc.fixturenames:
        metafunc.parametrize("dr_config", configs, indirect=True, scope="session",
                             ids=[cfg.target_name for cfg in configs])  # fmt: skip


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """pytest-xdist (-n N): one worker per target at a time, each target's phases in order."""
    configs = config.stash.get(CONFIGS_KEY, None)
    if not configs or config.getoption("dist") == "each":
        return None
    from drtests.fleet_scheduling import TargetScheduling

    return TargetScheduling(config, log, [cfg.target_name for cfg in configs])


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Target by target; drill phases in order; a user's dr_check runs right after the built-in
    phase it names."""
    configs = config.stash.get(CONFIGS_KEY, None) or []
    names = [cfg.target_name for cfg in configs]

    def key(item: pytest.Item) -> tuple[int, int, int]:
        placed, cfg = _phase_of(item), _config_of(item)
        if placed is None:
            return len(names) + 1, len(PHASES), 0
        phase, builtin = placed
        if phase not in PHASES:
            raise pytest.UsageError(f"{item.nodeid}: dr_check phase {phase!r} is not one of {', '.join(PHASES)}")
        return names.index(cfg.target_name) if cfg else len(names), PHASES.index(phase), 0 if builtin else 1

    items.sort(key=key)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    placed = _phase_of(item)
    if placed and placed[1] and (drill := _item_drill(item)):
        drill.phase_started(placed[0])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    report = yield
    placed, drill = _phase_of(item), _item_drill(item)
    if not placed or drill is None or (report.when != "call" and not (report.failed or report.skipped)):
        return report
    if call.excinfo is not None and (message := user_message(call.excinfo.value, drill.config)):
        report.longrepr = message  # the user reads what went wrong, not our traceback
        if call.excinfo.errisinstance(Unreachable) and not drill.checks_after_preflight():
            drill.facts["infrastructure_error"] = message
    phase, builtin = placed
    if report.skipped:
        status, message = (
            "skipped",
            str(report.longrepr[2]).removeprefix("Skipped: ") if isinstance(report.longrepr, tuple) else "",
        )
    else:
        status, message = ("pass", "") if report.passed else ("fail", _first_line(report))
    if builtin:
        drill.phase_ended(phase, status, message)
        record = drill.phases[phase]  # figures for JUnit XML and other CI formats
        figures = [("drill_id", drill.id), ("phase_status", status), ("phase_duration_s", record.duration_s)]
        if phase == "restore" and drill.rto_seconds is not None:
            figures += [("rto_s", drill.rto_seconds), ("rto_objective_s", drill.config.objectives.rto_seconds)]
        if phase == "verify" and drill.rpo_seconds is not None:
            figures += [("rpo_s", drill.rpo_seconds), ("rpo_objective_s", drill.config.objectives.rpo_seconds)]
        item.user_properties.extend(figures)  # reporters such as junitxml read them from the teardown report
    elif status != "skipped":
        drill.check(phase, item.name, "pass", status, message=message)
    return report


def user_message(exc: BaseException, cfg: drill_config.DrillConfig) -> str | None:
    """One line for the failures a drill expects to meet; None for bugs (they keep their traceback)."""
    from drtests.es_errors import describe

    return str(exc) if isinstance(exc, DrillError) else describe(exc, cfg.elasticsearch.url)


def _first_line(report: pytest.TestReport) -> str:
    text = report.longreprtext.strip()
    crash = getattr(report.longrepr, "reprcrash", None)
    return (crash.message if crash else text).strip().removeprefix("Failed: ")


# fixtures -------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def dr_config(request: pytest.FixtureRequest) -> drill_config.DrillConfig:
    """The drill's validated config (in a fleet: this target's)."""
    if hasattr(request, "param"):
        return request.param
    configs = request.config.stash.get(CONFIGS_KEY, None)
    if not configs:
        pytest.skip("no drill config: pass --dr-config")
    return configs[0]


@pytest.fixture(scope="session")
def dr_drill(pytestconfig: pytest.Config, dr_config: drill_config.DrillConfig) -> Drill:
    """The Drill record: phases, checks, facts. User checks may add checks and facts."""
    return drill_of(pytestconfig, dr_config)


@pytest.fixture(scope="session")
def dr_say(pytestconfig: pytest.Config, dr_config: drill_config.DrillConfig) -> Progress:
    """Write a progress line to the terminal (in a fleet, prefixed with the target's name)."""
    fleet = len(pytestconfig.stash.get(CONFIGS_KEY, None) or []) > 1
    return Progress(pytestconfig, dr_config.target_name if fleet else "")


@pytest.fixture(scope="session")
def dr_options(pytestconfig: pytest.Config) -> dict[str, object]:
    return {name: option(pytestconfig, name) for name in ("report_dir", "allow_destructive", "keep", "recover", "gate")}


@pytest.fixture(scope="session")
def dr_target(dr_config: drill_config.DrillConfig) -> TargetHost:
    """The host the drill works on (testinfra), from target.url."""
    t = dr_config.target
    return TargetHost(t.url, sudo=t.sudo, ssh_config=t.ssh_config, ssh_identity_file=t.ssh_identity_file)


@pytest.fixture(scope="session")
def dr_service(dr_config: drill_config.DrillConfig, dr_target: TargetHost) -> Service:
    """The StackState node service (stackstate.service or the configured commands)."""
    return node_service(dr_config, dr_target)


@pytest.fixture(scope="session")
def dr_stackgraph(dr_config: drill_config.DrillConfig, dr_target: TargetHost) -> Service:
    return stackgraph_service(dr_config, dr_target)


@pytest.fixture(scope="session")
def dr_log(dr_config: drill_config.DrillConfig, dr_target: TargetHost) -> LogWindow:
    """stackstate.log from the drill's start on: call .poll() for the lines written since."""
    return LogWindow.open_at_end(dr_target, dr_config.path(dr_config.stackstate.log_file))


@pytest.fixture(scope="session")
def dr_es(dr_config: drill_config.DrillConfig):
    """An elasticsearch-py 7.17 client for the drill's cluster (None when ES is disabled)."""
    if not dr_config.elasticsearch.enabled:
        return None
    from drtests.telemetry import connect

    return connect(dr_config)


@pytest.fixture(scope="session")
def dr_restore_site(dr_config, dr_drill, dr_target, dr_service, dr_safety, dr_options, dr_say):
    """Where the restore happens: the target (in place) or a disposable host (isolated), which is
    removed at the end unless --dr-keep."""
    from drtests import restore_site

    if dr_config.drill.mode != "isolated":
        return restore_site.in_place(dr_config, dr_target, dr_service, dr_drill)
    site = restore_site.isolated(dr_config, dr_drill, dr_say)
    disposable = site.disposable
    if dr_options["keep"]:
        dr_say(f"--dr-keep: the restore host stays; enter it with: docker exec -it {disposable.name} bash")
        dr_drill.facts["restore_host"]["kept"] = True
    else:
        dr_safety.register(f"disposable host {disposable.name} removed", disposable.remove)
    return site


@pytest.fixture(scope="session")
def dr_safety(dr_drill: Drill, dr_say: Progress, request: pytest.FixtureRequest) -> Iterator[Safety]:
    """Undo actions that run at the end whatever happens: node started, lock released, ..."""
    safety = Safety(dr_drill, dr_say)
    yield safety
    if signal_name := safety.run_all():
        dr_drill.warnings.append(f"{signal_name} came during the safety steps; they finished, the run stops")
        request.session.shouldstop = f"{signal_name} during the safety steps"


# evidence -------------------------------------------------------------------------------------
@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Runs after session fixtures were torn down, so the evidence includes the safety steps."""
    config = session.config
    for drill in (config.stash.get(DRILLS_KEY, None) or {}).values():
        if drill.phases["preflight"].status == "pending":
            continue
        result = finish_drill(drill, config)
        config.stash[RESULTS_KEY].append(result)
        if hasattr(config, "workeroutput"):  # an xdist worker: the controller prints the summary
            config.workeroutput.setdefault("drtests", []).append(result)


def finish_drill(drill: Drill, config: pytest.Config) -> dict:
    """Write one drill's final evidence, send its webhook; its outcome and summary lines."""
    for record in drill.phases.values():
        if record.status == "running":  # Ctrl-C or SIGTERM ended it
            drill.phase_ended(record.name, "fail", "interrupted: the drill was stopped (SIGINT/SIGTERM)")
    from drtests.report.evidence import write_evidence

    folder = write_evidence(drill, Path(str(option(config, "report_dir"))), final=True)
    problem = None
    if drill.config.alerts.webhook_url_env:
        from drtests import alerts
        from drtests.report import history

        evidence = json.loads((folder / "evidence.json").read_text())
        summary = {**history.summary(evidence), "report": str((folder / "report.html").resolve()),
                   "warnings": evidence["warnings"]}  # fmt: skip
        url = os.environ[drill.config.alerts.webhook_url_env]
        problem = alerts.send_webhook(url, summary, drill.config.alerts.webhook_timeout)
    return {
        "target": drill.config.target_name,
        "drill_id": drill.id,
        "verdict": drill.verdict,
        "infrastructure_error": drill.facts.get("infrastructure_error"),
        "evidence": str(folder),
        "lines": summary_lines(drill, folder, bool(option(config, "gate")), problem),
    }


def summary_lines(drill: Drill, folder: Path, gate: bool, webhook_problem: str | None) -> list[str]:
    lines = [f"drill {drill.id} ({drill.config.target_name}): verdict {drill.verdict.upper()}"]
    lines += [f"  FAILED {c.phase}/{c.name}: {c.message}" for c in drill.failed_checks()]
    lines += [f"  phase {r.name} failed: {r.message}" for r in drill.phases.values() if r.status == "fail"]
    if drill.rto_seconds is not None:
        lines.append(f"  RTO {drill.rto_seconds:.1f}s (objective {drill.config.objectives.rto_seconds:g}s)")
    if drill.rpo_seconds is not None:
        lines.append(f"  RPO {drill.rpo_seconds:.1f}s (objective {drill.config.objectives.rpo_seconds:g}s)")
    lines += [f"  WARNING: {warning}" for warning in drill.warnings]
    if webhook_problem:
        lines.append(f"  WARNING: {webhook_problem}")
    lines.append(f"  report: {folder / 'report.html'}")
    if gate:
        lines.append(gate_line(drill))
    lines.append(f"  evidence: {folder / 'evidence.json'}")
    return lines


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """xdist controller: keep the drills a worker finished, for the summary and the exit code."""
    config = node.config
    if RESULTS_KEY in config.stash:
        config.stash[RESULTS_KEY].extend(getattr(node, "workeroutput", {}).get("drtests", []))


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    results = config.stash.get(RESULTS_KEY, None)
    if not results or hasattr(config, "workeroutput"):
        return
    terminalreporter.section("drtests")
    results = sorted(results, key=lambda r: r["target"])
    for result in results:
        for line in result["lines"]:
            terminalreporter.write_line(line)
    if len(results) > 1:
        terminalreporter.write_line("fleet: " + ", ".join(f"{r['target']} {r['verdict'].upper()}" for r in results))


def gate_line(drill: Drill) -> str:
    """One line a release checklist can paste: verdict, RTO, the rollback point."""
    artifact, snapshot = drill.facts.get("artifact", {}), drill.facts.get("snapshot", {})
    versions = drill.facts.get("stackstate_version", {})
    rto = f"{drill.rto_seconds:.1f}s" if drill.rto_seconds is not None else "n/a"
    snap = f"{snapshot['repository']}/{snapshot['snapshot']}" if snapshot else "n/a"
    return (f"GATE {drill.verdict.upper()} stackstate={versions.get('target') or 'unknown'} rto={rto} "
            f"artifact={artifact.get('path', 'n/a')} sha256={artifact.get('sha256', 'n/a')} snapshot={snap} "
            f"target={drill.config.target_name} drill={drill.id}")  # fmt: skip
