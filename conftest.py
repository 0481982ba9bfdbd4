"""The project's root conftest: deliberately declares nothing.

The lab's fixtures load from tests/conftest.py. A conftest here is read whenever pytest collects
a path under this checkout, including drtests/drills/ during a user's own drill run
(`pytest --dr-config my.toml my_checks.py` from anywhere): what it declared would reach that run,
and a `pytest_plugins` here stops it ("non-top-level conftest") before any drill.
"""
