"""Project-wide pytest setup: the reference lab's fixtures (fixtures/pytest_lab.py)."""

pytest_plugins = ["fixtures.pytest_lab"]
