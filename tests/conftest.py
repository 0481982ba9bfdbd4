"""The project's tests: the reference lab's fixtures (fixtures/pytest_lab.py), and the `lab`
marker on every test that needs the lab, so `pytest -m "not lab"` runs the others."""

from __future__ import annotations

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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if LAB_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.lab)
