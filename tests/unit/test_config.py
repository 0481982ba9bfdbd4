"""Config loading: StackState 4.6 defaults, overrides, and a precise error for each bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from drtests.config import DEFAULT_TYPES, load, parse_overrides
from drtests.errors import ConfigError

DRTESTS = str(Path(sys.executable).parent / "drtests")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "drill.toml"
    path.write_text(text)
    return path


def test_an_empty_file_gives_the_stackstate_46_defaults(tmp_path: Path) -> None:
    cfg = load(write(tmp_path, ""))
    assert cfg.stackstate.home == "/opt/stackstate"
    assert cfg.path(cfg.stackstate.export_command, file="/b.graph") == (
        "/opt/stackstate/bin/sts-standalone.sh export --file /b.graph --graph default"
    )
    assert cfg.path(cfg.stackstate.log_file) == "/opt/stackstate/var/log/stackstate.log"
    assert cfg.service.backend == "systemd" and cfg.service.unit == "stackstate.service"
    assert cfg.elasticsearch.url == "http://127.0.0.1:9200" and cfg.elasticsearch.indices == "sts_*"
    assert cfg.elasticsearch.restore == "rename" and cfg.drill.mode == "in-place"
    assert cfg.probe.types == DEFAULT_TYPES and len(cfg.sha256) == 64


def test_overrides_win_and_are_typed(tmp_path: Path) -> None:
    overrides = parse_overrides(["stackstate.home=/srv/sts", "service.timeout=5", "target.disposable=true"])
    cfg = load(write(tmp_path, '[stackstate]\nhome = "/x"\n'), overrides)
    assert cfg.stackstate.home == "/srv/sts" and cfg.service.timeout == 5.0 and cfg.target.disposable is True


BAD = [
    # (toml text, environment, words the one-line error must contain)
    ("[drill\n", {}, "not valid TOML"),
    ("[nosuch]\n", {}, "nosuch: unknown section"),
    ("[target]\nurll = 'local://'\n", {}, "target.urll: unknown key"),
    ("drill = 3\n", {}, "drill: must be a table"),
    ("[target]\ndisposable = 'yes'\n", {}, "target.disposable: must be bool, got str 'yes'"),
    ("[service]\ntimeout = '30'\n", {}, "service.timeout: must be float"),
    ("[target]\nmin_free_mb = 1.5\n", {}, "target.min_free_mb: must be int"),
    ("[probe]\ntypes = 'Component'\n", {}, "probe.types: must be a list of strings"),
    ("[probe]\ntypes = [1, 2]\n", {}, "probe.types: must be a list of strings"),
    ("[probe]\ntypes = []\n", {}, "probe.types: must name at least one node type"),
    ("[drill]\nmode = 'sideways'\n", {}, "drill.mode: must be one of in-place, isolated"),
    ("[service]\nbackend = 'upstart'\n", {}, "service.backend: must be one of systemd, command"),
    ("[probe]\nkind = 'guess'\n", {}, "probe.kind: must be one of cli, api, command"),
    ("[elasticsearch]\nrestore = 'merge'\n", {}, "elasticsearch.restore: must be one of rename, replace"),
    ("[stackstate]\nerror_pattern = '(ERROR'\n", {}, "stackstate.error_pattern: invalid regular expression"),
    ("[elasticsearch]\nrename_pattern = '[a-'\n", {}, "elasticsearch.rename_pattern: invalid regular expression"),
    ("[stackstate]\nwatermark_pattern = 'till (\\\\d+)'\n", {}, "needs a named group (?P<ns>...)"),
    ("[target]\nurl = 'ftp://host'\n", {}, "target.url: must be a testinfra host URL"),
    ("[target]\nurl = 'ssh://-oProxyCommand=touch%20x'\n", {}, "target.url: a host or user starting with '-' would"),
    ("[target]\nurl = 'ssh://-F@host'\n", {}, "target.url: a host or user starting with '-' would be read"),
    ("[elasticsearch]\nurl = 'localhost:9200'\n", {}, "elasticsearch.url: must be an http(s) URL with a host"),
    ("[elasticsearch]\nurl = 'http://127.0.0.1:99999'\n", {}, "elasticsearch.url: has an invalid port"),
    ("[probe]\napi_url = 'http://'\n", {}, "probe.api_url: must be an http(s) URL with a host"),
    ("[service]\nbackend = 'command'\n", {}, "service.start_command: is required"),
    ("[probe]\nkind = 'command'\n", {}, "probe.command: is required"),
    ("[elasticsearch]\npassword_env = 'DRT_NOPE_PW'\n", {}, "names environment variable DRT_NOPE_PW, which is not set"),
    ("[elasticsearch]\npassword_env = 'DRT_PW'\n", {"DRT_PW": "x"}, "username_env: is required"),
    ("[stackstate]\nimport_timeout = 0\n", {}, "stackstate.import_timeout: must be > 0 seconds"),
    ("[objectives]\nrto_seconds = -1\n", {}, "objectives.rto_seconds: must be > 0"),
    ("[stackstate]\nexport_command = 'export {fil}'\n", {}, "unknown placeholder {fil}"),
    ("[elasticsearch]\nfingerprint_sample = 0\n", {}, "elasticsearch.fingerprint_sample: must be >= 1"),
    ("[stackstate]\nexport_timeout = nan\n", {}, "stackstate.export_timeout: must be a finite number, got nan"),
    ("[service]\ntimeout = inf\n", {}, "service.timeout: must be a finite number, got inf"),
    ("[objectives]\nrpo_seconds = 1e400\n", {}, "objectives.rpo_seconds: must be a finite number, got inf"),
    ("[probe]\nconcurrency = 0\n", {}, "probe.concurrency: must be >= 1"),
    ("[elasticsearch]\nrename_replacement = 'archive'\n", {}, "rename_replacement: must keep the original name"),
    ("[elasticsearch]\nrename_replacement = '$1-old'\n", {}, "rename_replacement: must start with a fixed prefix"),
    (
        "[elasticsearch]\nrename_replacement = 'x-$2'\n",
        {},
        "refers to group $2, but elasticsearch.rename_pattern has 1",
    ),
    ("[alerts]\nstale_backup = 'loud'\n", {}, "alerts.stale_backup: must be one of warn, fail, off, got 'loud'"),
    ("[target]\nmin_free_mb = -1\n", {}, "target.min_free_mb: must be >= 0"),
    ("[stackstate]\nexport_command = \"x | awk '{ print $1 }'\"\n", {}, "unknown placeholder { print $1 }"),
    ("[stackstate]\nexport_command = 'export }'\n", {}, "Single '}' encountered in format string: write a literal"),
    ("[elasticsearch]\nfingerprint_sample = 1000000000\n", {}, "elasticsearch.fingerprint_sample: must be <= 10000"),
    ("[elasticsearch]\nfingerprint_sample = 1e9\n", {}, "elasticsearch.fingerprint_sample: must be int"),
    ("[stackstate]\ngraph = ''\n", {}, "stackstate.graph: must not be empty"),
    ("[target]\nlock_file = ''\n", {}, "target.lock_file: must not be empty"),
    ("[stackstate]\nhome = 'opt/sts'\n", {}, "stackstate.home: must be an absolute path"),
    ("[target]\nurl = 'ssh://'\n", {}, "target.url: names no host"),
    ("[drill]\nname = '/../../esc/pwned'\n", {}, "drill.name: letters, digits"),
    ("[drill]\nname = '" + "x" * 240 + "'\n", {}, "drill.name: letters, digits"),
]


@pytest.mark.parametrize(("text", "env", "words"), BAD, ids=[b[2][:40] for b in BAD])
def test_bad_config_names_file_key_and_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, env: dict, words: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert words in str(caught.value)


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(write(tmp_path, "\xff\xfe"))


def test_override_values_take_the_type_of_their_key(tmp_path: Path) -> None:
    overrides = parse_overrides(["service.status_command=false", "probe.types=['Component']", "target.sudo=true"])
    cfg = load(write(tmp_path, ""), overrides)
    assert cfg.service.status_command == "false" and cfg.probe.types == ["Component"] and cfg.target.sudo is True
    with pytest.raises(ConfigError, match="service.timeout: must be float, got str 'soon'"):
        load(write(tmp_path, ""), parse_overrides(["service.timeout=soon"]))


def test_every_substituted_value_is_quoted_for_the_shell(tmp_path: Path) -> None:
    cfg = load(write(tmp_path, "[stackstate]\nhome = '/opt/my sts'\ngraph = 'x; touch pwned'\n"))
    assert cfg.command(cfg.stackstate.export_command, file="/b k.graph") == (
        "'/opt/my sts'/bin/sts-standalone.sh export --file '/b k.graph' --graph 'x; touch pwned'"
    )
    assert cfg.path(cfg.stackstate.log_file) == "/opt/my sts/var/log/stackstate.log"  # paths are quoted where used
    doubled = load(write(tmp_path, "[probe]\ncommand = \"sts count | awk '{{ print $1 }}'\"\nkind = 'command'\n"))
    assert doubled.command(doubled.probe.command) == "sts count | awk '{ print $1 }'"


def test_an_override_is_held_to_the_same_declaration(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="stackstate.import_timeout: must be a finite number, got nan"):
        load(write(tmp_path, ""), parse_overrides(["stackstate.import_timeout=nan"]))


def test_bad_override_syntax() -> None:
    with pytest.raises(ConfigError, match="must look like section.key=value"):
        parse_overrides(["timeout=3"])


@pytest.mark.parametrize("command", ["run", "plan"])
def test_cli_reports_a_bad_config_in_one_line_with_exit_2(tmp_path: Path, command: str) -> None:
    path = write(tmp_path, "[target]\nurl = 'ftp://x'\n")
    result = subprocess.run([DRTESTS, command, "--config", str(path)], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"drtests: error: {path}: target.url: must be a testinfra host URL like local:// or ssh://user@host, "
        "got 'ftp://x'"
    ]
    assert "Traceback" not in result.stdout + result.stderr


def test_pytest_with_a_bad_config_is_a_usage_error(tmp_path: Path) -> None:
    path = write(tmp_path, "[target]\nnope = 1\n")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--dr-config", str(path), "-p", "no:cacheprovider"],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    assert f"{path}: target.nope: unknown key" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("name", ["lab-local.toml", "stackstate-4.6.toml"])
def test_bundled_drill_configs_load(name: str) -> None:
    load(Path(__file__).resolve().parents[2] / "fixtures" / "drills" / name)  # raises ConfigError if not


def test_the_shipped_46_config_shows_every_key_with_its_default() -> None:
    """It says so in its first lines: every key of the model, each at the model's default."""
    import tomllib
    from dataclasses import fields

    from drtests.config import DrillConfig

    sections = {f.name: f.default_factory() for f in fields(DrillConfig) if f.name not in ("source", "sha256")}
    shipped = tomllib.loads((Path(__file__).resolve().parents[2] / "fixtures/drills/stackstate-4.6.toml").read_text())
    assert set(shipped) == set(sections)
    for section, defaults in sections.items():
        for f in fields(defaults):
            default = getattr(defaults, f.name)
            assert f.name in shipped[section], f"{section}.{f.name} is missing"
            assert shipped[section][f.name] == default, f"{section}.{f.name}: {shipped[section][f.name]!r}"


@pytest.mark.parametrize("key", ["elasticsearch.url=http://admin:{pw}@127.0.0.1:9200", "target.url=ssh://sts:{pw}@h",
                                 "probe.api_url=http://u:{pw}@127.0.0.1:7070"])  # fmt: skip
@pytest.mark.parametrize("command", ["run", "plan"])
def test_a_password_in_a_url_is_refused_and_never_shown(tmp_path: Path, key: str, command: str) -> None:
    secret = "s3cr3t-Pw-9"
    path = write(tmp_path, "")
    result = subprocess.run([DRTESTS, command, "--config", str(path), "--set", key.format(pw=secret),
                             "--report-dir", str(tmp_path / "reports")] if command == "run" else
                            [DRTESTS, command, "--config", str(path), "--set", key.format(pw=secret)],
                            capture_output=True, text=True, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 2
    assert f"{key.split('=')[0]}: holds a password: secrets never go in the config" in result.stderr
    assert secret not in result.stdout + result.stderr
    assert not (tmp_path / "reports").exists()


@pytest.mark.parametrize(
    ("sets", "key", "problem"),
    [
        (["restore_cluster.url=http://127.0.0.1:9200"], "restore_cluster.url", "is the production cluster"),
        (["restore_cluster.url=http://u:pw@127.0.0.1:9201"], "restore_cluster.url", "holds a password"),
        (["restore_cluster.url=ftp://h"], "restore_cluster.url", "must be an http(s) URL with a host"),
        (["restore_cluster.url=http://h:9201", "restore_cluster.password_env=HOME"], "restore_cluster.username_env",
         "is required with restore_cluster.password_env"),
        (["restore_cluster.url=http://h:9201", "restore_cluster.api_key_env=DRTESTS_NO_SUCH_VAR"],
         "restore_cluster.api_key_env", "names environment variable DRTESTS_NO_SUCH_VAR, which is not set"),
    ],
)  # fmt: skip
def test_a_bad_restore_cluster_is_refused(tmp_path: Path, sets: list[str], key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, ""), parse_overrides(sets))
    assert caught.value.key == key and caught.value.problem.startswith(problem), str(caught.value)


def test_the_ssh_copy_command_ends_options_before_the_host() -> None:
    """ssh reads an argument starting with '-' as an option: the destination comes after --."""
    from drtests.hosts.host import TargetHost

    argv = TargetHost("ssh://sts@db-1:2222").ssh_cat_argv("/opt/backups/a b.graph")
    assert argv[-3:] == ["--", "sts@db-1", "cat -- '/opt/backups/a b.graph'"]
    assert argv[:5] == ["ssh", "-o", "BatchMode=yes", "-p", "2222"]


@pytest.mark.parametrize(
    ("every", "problem"),
    [
        ('["SOC2:A1.3=7d"]', "'SOC2:A1.3=7d': write CONTROL=AGE"),  # a control the drill is not evidence for
        ('["DORA:Art.12"]', "'DORA:Art.12': write CONTROL=AGE"),
        ('["DORA:Art.12=weekly"]', "'DORA:Art.12=weekly': 'weekly' is not an age"),
    ],
)  # fmt: skip
def test_a_bad_cadence_is_refused_by_name(tmp_path: Path, every: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, f'[evidence]\ncontrols = ["DORA:Art.12"]\nevery = {every}\n'))
    assert caught.value.key == "evidence.every" and caught.value.problem.startswith(problem), str(caught.value)
    assert load(write(tmp_path, '[evidence]\ncontrols = ["DORA:Art.12"]\nevery = ["DORA:Art.12 = 7d"]\n'))
