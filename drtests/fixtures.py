"""The drill's fixtures: what the phases and a user's dr_check tests are given.

Registered by the plugin when a drill config is given. In a fleet, dr_config is parametrized
per target (drtests.session), so every fixture below exists once per target.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drtests.config import DrillConfig
from drtests.hosts.host import TargetHost
from drtests.hosts.logtail import LogWindow
from drtests.hosts.service import Service, node_service, stackgraph_service
from drtests.options import DrillOptions
from drtests.progress import Progress
from drtests.proof_beside import ProofBeside
from drtests.record.drill import Drill
from drtests.safety import Safety
from drtests.session import DrillSession, phase_of


@pytest.fixture(scope="session")
def dr_config(request: pytest.FixtureRequest) -> DrillConfig:
    """The drill's validated config (in a fleet: this target's)."""
    if hasattr(request, "param"):
        return request.param
    session = DrillSession.find(request.config)
    if session is None:
        pytest.skip("no drill config: pass --dr-config")
    return session.configs[0]


@pytest.fixture(scope="session")
def dr_drill(pytestconfig: pytest.Config, dr_config: DrillConfig) -> Drill:
    """The Drill record: phases, checks, steps and each phase's typed result (dr_drill.baseline,
    dr_drill.verify, ...). User checks may add checks."""
    return DrillSession.of(pytestconfig).drill_of(dr_config)


@pytest.fixture(scope="session")
def dr_say(pytestconfig: pytest.Config, dr_config: DrillConfig) -> Progress:
    """Write a progress line to the terminal (in a fleet, prefixed with the target's name)."""
    fleet = len(DrillSession.of(pytestconfig).configs) > 1
    return Progress(pytestconfig, dr_config.target_name if fleet else "")


@pytest.fixture(scope="session")
def dr_options(pytestconfig: pytest.Config) -> DrillOptions:
    """This run's options (--dr-keep, --dr-recover, ...; a command-line option over its ini key)."""
    return DrillSession.of(pytestconfig).options


@pytest.fixture(scope="session")
def dr_target(dr_config: DrillConfig) -> TargetHost:
    """The host the drill works on (testinfra), from target.url."""
    t = dr_config.target
    return TargetHost(t.url, t.sudo, t.ssh_config, t.ssh_identity_file, dr_config.secret_names)


@pytest.fixture(scope="session")
def dr_service(dr_config: DrillConfig, dr_target: TargetHost) -> Service:
    """The StackState node service (stackstate.service or the configured commands)."""
    return node_service(dr_config, dr_target)


@pytest.fixture(scope="session")
def dr_stackgraph(dr_config: DrillConfig, dr_target: TargetHost) -> Service:
    return stackgraph_service(dr_config, dr_target)


@pytest.fixture(scope="session")
def dr_log(dr_config: DrillConfig, dr_target: TargetHost) -> LogWindow:
    """stackstate.log from the drill's start on: call .poll() for the lines written since."""
    return LogWindow.open_at_end(dr_target, dr_config.path(dr_config.stackstate.log_file))


@pytest.fixture(scope="session")
def dr_es(dr_config: DrillConfig):
    """An elasticsearch-py 7.17 client for the drill's cluster (None when ES is disabled)."""
    if not dr_config.elasticsearch.enabled:
        return None
    from drtests.es.client import connect

    return connect(dr_config)


@pytest.fixture(scope="session")
def dr_restore_es(dr_config: DrillConfig, dr_es):
    """The cluster the snapshot is restored into: the restore cluster (restore_cluster.url), else
    the production cluster (under renamed indices)."""
    if not dr_config.restore_cluster.url:
        return dr_es
    from drtests.es.client import connect

    return connect(dr_config, "restore_cluster")


@pytest.fixture(scope="session")
def dr_restore_site(dr_config, dr_drill, dr_target, dr_service, dr_safety, dr_options, dr_say):
    """Where the restore happens (drtests.modes): the target (in place) or a disposable host
    (isolated, existing), which is removed at the end unless --dr-keep."""
    from drtests import modes

    site = modes.of(dr_config).open_site(dr_config, dr_drill, dr_target, dr_service, dr_say)
    disposable = site.disposable
    if disposable is None:
        return site
    if dr_options.keep:
        dr_say(
            f"{dr_options.flag('keep')}: the restore host stays; enter it with: docker exec -it {disposable.name} bash"
        )
        dr_drill.restore.host.kept = True
    else:
        dr_safety.register(f"disposable host {disposable.name} removed", disposable.remove,
                           f"the container {disposable.name}: docker rm -f {disposable.name}")  # fmt: skip
    return site


@pytest.fixture(scope="session")
def dr_safety(dr_drill: Drill, dr_say: Progress, request: pytest.FixtureRequest) -> Iterator[Safety]:
    """Undo actions that run at the end whatever happens: node started, lock released, ..."""
    safety = Safety(dr_drill, dr_say)
    yield safety
    if signal_name := safety.run_all():
        dr_drill.warnings.append(f"{signal_name} came during the safety steps; they finished, the run stops")
        request.session.shouldstop = f"{signal_name} during the safety steps"


@pytest.fixture(scope="session")
def dr_user_check_phases(request: pytest.FixtureRequest, dr_config: DrillConfig) -> set[str]:
    """The phases a user's dr_check runs in on this target: what the drill keeps for them (the
    restored copies stay until the end when a check runs after the restore began)."""
    session = DrillSession.of(request.config)
    phases = set()
    for item in request.session.items:
        placed, cfg = phase_of(item), session.config_of(item)
        if placed is not None and not placed[1] and (cfg is None or cfg.target_name == dr_config.target_name):
            phases.add(placed[0])
    return phases


@pytest.fixture(scope="session")
def dr_proof_beside(dr_safety: Safety) -> Iterator[ProofBeside]:
    """The checks the restore phase starts beside its work, whose results the verify phase takes;
    stopped at the drill's end (before the safety steps remove what they read)."""
    beside = ProofBeside()
    yield beside
    beside.stop()
