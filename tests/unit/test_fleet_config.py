"""Fleets in config: [[fleet]] entries over shared sections, a folder of configs, and the errors
a user meets (no name, two targets with one name, an entry that is not a table)."""

from __future__ import annotations

from pathlib import Path

import pytest

from drtests.config import load, load_fleet
from drtests.errors import ConfigError
from drtests.fleet_scheduling import target_in

SHARED = """
[drill]
name = "nightly"

[stackstate]
home = "/opt/shared"
export_timeout = 600

[elasticsearch]
indices = "sts_*"
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_fleet_entries_override_the_shared_sections(tmp_path: Path) -> None:
    config = write(tmp_path / "fleet.toml", SHARED + """
[[fleet]]
target.name = "eu-1"
target.url = "ssh://sts@eu1.example"
stackstate.home = "/opt/eu1"

[[fleet]]
target.name = "us-1"
elasticsearch.indices = "us_sts_*"
""")  # fmt: skip
    eu, us = load_fleet(config, {"stackstate.import_timeout": "99"})
    assert (eu.target_name, eu.target.url, eu.stackstate.home, eu.elasticsearch.indices) == (
        "eu-1", "ssh://sts@eu1.example", "/opt/eu1", "sts_*")  # fmt: skip
    assert (us.target_name, us.target.url, us.stackstate.home, us.elasticsearch.indices) == (
        "us-1", "local://", "/opt/shared", "us_sts_*")  # fmt: skip
    assert eu.stackstate.export_timeout == us.stackstate.export_timeout == 600.0  # shared
    assert eu.stackstate.import_timeout == us.stackstate.import_timeout == 99.0  # --set applies to every target
    assert eu.drill.name == us.drill.name == "nightly"
    assert "[[fleet]] #1" in eu.source and "[[fleet]] #2" in us.source


def test_a_folder_of_configs_is_a_fleet_named_by_file(tmp_path: Path) -> None:
    folder = tmp_path / "fleet"
    folder.mkdir()
    write(folder / "prod.toml", "[stackstate]\nhome = '/opt/prod'\n")
    write(folder / "staging.toml", "[target]\nname = 'stage'\n")
    write(folder / "notes.txt", "not a config")
    prod, stage = load_fleet(folder)
    assert (prod.target_name, prod.stackstate.home) == ("prod", "/opt/prod")
    assert stage.target_name == "stage"  # target.name wins over the file name


def test_a_plain_config_is_a_fleet_of_one(tmp_path: Path) -> None:
    (cfg,) = load_fleet(write(tmp_path / "one.toml", SHARED))
    assert cfg.target_name == "localhost:/opt/shared"
    assert cfg == load(tmp_path / "one.toml")


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("[[fleet]]\nstackstate.home = '/a'\n", "target.name", "is required in every [[fleet]] entry"),
        ("[[fleet]]\ntarget.name = 'a'\n[[fleet]]\ntarget.name = 'a'\n", "target.name", "names two targets"),
        ("fleet = 3\n", "fleet", "must be one or more [[fleet]] tables"),
        ("fleet = []\n", "fleet", "must be one or more [[fleet]] tables"),
        ("[[fleet]]\ntarget.name = 'a'\nhome = '/x'\n", "home", "must be a table of keys"),
        ("[[fleet]]\ntarget.name = 'a b'\n", "target.name", "letters, digits"),
        ("[[fleet]]\ntarget.name = 'a'\ntarget.colour = 'x'\n", "target.colour", "unknown key"),
    ],
)
def test_bad_fleet_entries_name_the_key(tmp_path: Path, text: str, key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_fleet(write(tmp_path / "fleet.toml", text))
    assert caught.value.key == key and problem in str(caught.value), str(caught.value)


def test_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="folder holds no"):
        load_fleet(tmp_path)
    write(tmp_path / "a.toml", "[target]\nname = 'x'\n")
    write(tmp_path / "b.toml", "[target]\nname = 'x'\n")
    with pytest.raises(ConfigError, match="names two targets"):
        load_fleet(tmp_path)
    with pytest.raises(ConfigError, match="is a folder"):
        load(tmp_path)


def test_load_refuses_a_fleet_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="several targets"):
        load(write(tmp_path / "fleet.toml", "[[fleet]]\ntarget.name = 'a'\n"))


@pytest.mark.parametrize(
    ("nodeid", "target"),
    [
        ("drtests/drills/phase_1_preflight.py::test_preflight[eu-1]", "eu-1"),
        ("drtests/drills/phase_1_preflight.py::test_preflight[eu]", "eu"),
        ("tests/test_mine.py::test_check[eu-1-slow]", "eu-1"),
        ("tests/test_mine.py::test_check[slow-eu]", "eu"),
        ("tests/test_mine.py::test_unrelated", None),
        ("tests/test_mine.py::test_other[x]", None),
    ],
)
def test_the_scheduler_finds_the_target_in_the_parameter_id(nodeid: str, target: str | None) -> None:
    assert target_in(nodeid, ["eu", "eu-1", "us"]) == target


@pytest.mark.parametrize(
    ("pytest_code", "verdicts", "expected"),
    [
        (0, ["pass", "pass"], 0),
        (0, ["pass", "incomplete"], 1),  # a drill that did not finish is not a pass, even if pytest is content
        (1, ["pass", "fail"], 1),
        (1, ["infra", "pass"], 3),
        (1, ["infra", "fail"], 1),  # one drill could not start, another failed a check: the check wins
        (1, [], 1),
    ],
)
def test_exit_code_of_a_fleet(pytest_code: int, verdicts: list[str], expected: int) -> None:
    from drtests.cli import exit_code
    from drtests.report.finish import DrillOutcome

    def outcome(verdict: str) -> DrillOutcome:
        infra = verdict == "infra"
        return DrillOutcome("t", "d", "fail" if infra else verdict, "target unreachable" if infra else None, "e")

    assert exit_code(pytest_code, [outcome(v) for v in verdicts]) == expected
