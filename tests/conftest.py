"""The project's tests: the reference lab's fixtures (fixtures/pytest_lab.py), and the `lab`
marker on every test that needs the lab, so `pytest -m "not lab"` runs the others.

`make test` runs them on two pytest-xdist workers, each with its own Elasticsearch node and
folders. Docker is the one thing the workers share: the tests that start drtests containers
(those asking for the lab image) assert that none is left afterwards, so their modules form one
scope that one worker runs in turn (ContainerScheduling); every other test is scheduled alone."""

from __future__ import annotations

import os

import pytest

from fixtures.pytest_lab import (  # noqa: F401  (fixtures are found by name in this module)
    es,
    es_home,
    es_repo_root,
    es_url,
    lab_container,
    lab_image,
    restore_es_url,
    sts_lab,
)

LAB_FIXTURES = {"es_home", "sts_lab", "lab_image", "lab_container"}
# The modules whose tests start containers from the lab image; a test elsewhere that asks for it is
# refused at collection, so the list cannot fall behind. (xdist's own `--dist loadgroup` does not
# work with pytest 9.2, pytest-xdist issue #1386; its scheduler sees node ids only, hence paths.)
CONTAINER_MODULES = (
    "tests/bench/test_bench_smoke.py",
    "tests/e2e/test_containers.py",
    "tests/e2e/test_existing.py",
    "tests/e2e/test_restore_cluster.py",
    "tests/e2e/test_systemd.py",
    "tests/integration/test_log_window.py",
)


# cosign is built from source by `make verify-cosign` (about 4 minutes): `make test` leaves its test out
collect_ignore = [] if os.environ.get("DRTESTS_COSIGN") else ["e2e/test_cosign.py"]


def in_container_module(nodeid: str) -> bool:
    return nodeid.split("::", 1)[0] in CONTAINER_MODULES


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if LAB_FIXTURES & fixtures:
            item.add_marker(pytest.mark.lab)
        if "lab_image" in fixtures and not in_container_module(item.nodeid):
            module = item.nodeid.split("::", 1)[0]
            raise pytest.UsageError(f"{item.nodeid} asks for lab_image: add {module} to CONTAINER_MODULES in "
                                    "tests/conftest.py (one worker runs those in turn)")  # fmt: skip


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    if config.getoption("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ContainerScheduling(LoadScopeScheduling):
        """One scope for the container modules (collected first: tests/bench, then tests/e2e, so a
        worker starts on them at once); every other test a scope of its own, as with `--dist load`."""

        def _split_scope(self, nodeid: str) -> str:
            return "containers" if in_container_module(nodeid) else nodeid

    return ContainerScheduling(config, log)
