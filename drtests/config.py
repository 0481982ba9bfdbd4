"""DrillConfig: one TOML file describes a drill; every key has a StackState 4.6 default.

Each key is declared once, with its type, default, allowed values and bounds next to it
(`setting(...)`); loading checks every declaration, then the rules that tie keys together
(`_cross_checks`), and raises ConfigError naming the file, the key and the problem before any
command reaches the target. Numbers must be finite.
"""

from __future__ import annotations

import hashlib
import math
import os
import posixpath
import re
import shlex
import string
import tomllib
import typing
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlparse

from drtests.errors import ConfigError
from drtests.words import Mode

DEFAULT_TYPES = [
    "Component", "Relation", "ComponentType", "RelationType", "Layer", "Domain", "Environment",
    "QueryView", "Sync", "DataSource", "CheckFunction",
]  # fmt: skip
TEMPLATE_KEYS = {"home", "graph", "file", "type"}


def setting(default: object, *, choices: tuple[str, ...] = (), gt: float | None = None, ge: float | None = None,
            le: float | None = None, unit: str = "", regex: bool = False, required: bool = False,
            absolute: bool = False, factory: Callable[[], object] | None = None) -> Any:  # fmt: skip
    """A config key: its default and what a value must be (one of `choices`; > gt, >= ge, <= le,
    in `unit`; a valid regular expression; not empty; an absolute path once {home} is expanded)."""
    rules = {"choices": choices, "gt": gt, "ge": ge, "le": le, "unit": unit, "regex": regex, "required": required,
             "absolute": absolute}  # fmt: skip
    if factory is not None:
        return field(default_factory=factory, metadata=rules)
    return field(default=default, metadata=rules)


@dataclass(frozen=True)
class DrillSection:
    name: str = setting("stackstate-drill", required=True)  # names evidence folders, snapshots, containers
    # in-place: restore onto the target; isolated: back up the target, restore in a disposable host;
    # existing: verify the backups the install already keeps ([existing]), production never stopped
    mode: Mode = setting(Mode.IN_PLACE, choices=tuple(Mode))
    # the snapshot beside the export and the snapshot restore beside the import (false: each after
    # the graph's part, one after the other: slower, for comparison or a cluster that needs the room)
    parallel_paths: bool = setting(True)


@dataclass(frozen=True)
class TargetSection:
    templates: ClassVar[bool] = True  # string keys may use {home}, {graph}, {file}, {type}
    name: str = setting("")  # how evidence and history name this install (default: the URL's host and stackstate.home)
    url: str = setting("local://", required=True)  # testinfra host spec: local://, ssh://user@host:port, docker://name
    owner: str = setting("stackstate", required=True)  # user that must be able to write the backup folder
    disposable: bool = setting(False)  # true: the graph may be overwritten by an in-place restore
    sudo: bool = setting(False)
    ssh_config: str = setting("")  # ssh:// targets: an ssh_config file (host keys, jump hosts, ...)
    ssh_identity_file: str = setting("")  # ssh:// targets: the private key
    lock_file: str = setting("{home}/var/drtests.lock", required=True, absolute=True)
    min_free_mb: int = setting(512, ge=0)


@dataclass(frozen=True)
class StackStateSection:
    templates: ClassVar[bool] = True
    home: str = setting("/opt/stackstate", required=True, absolute=True)
    graph: str = setting("default", required=True)
    backup_dir: str = setting("{home}/backups", required=True, absolute=True)
    export_command: str = setting("{home}/bin/sts-standalone.sh export --file {file} --graph {graph}", required=True)
    import_command: str = setting("{home}/bin/sts-standalone.sh import --file {file} --graph {graph}", required=True)
    log_file: str = setting("{home}/var/log/stackstate.log", required=True, absolute=True)
    restore_start_pattern: str = setting(r"Restoring graph (?P<graph>\S+) from (?P<file>.+)\.$", regex=True)
    watermark_pattern: str = setting(r"Contains changes till (?P<ns>\d+)", regex=True)
    error_pattern: str = setting(r"^\S+ \S+ \[[^\]]*\] (ERROR|FATAL) ", regex=True)
    version_command: str = setting("")  # prints the installed StackState version, e.g. "{home}/bin/sts version" (lab)
    export_timeout: float = setting(1800.0, gt=0, unit="seconds")
    import_timeout: float = setting(3600.0, gt=0, unit="seconds")


@dataclass(frozen=True)
class ServiceSection:
    templates: ClassVar[bool] = True
    backend: str = setting("systemd", choices=("systemd", "command"))
    unit: str = setting("stackstate.service", required=True)
    stackgraph_unit: str = setting("stackgraph.service", required=True)
    start_command: str = setting("")  # backend = "command": shell commands; status exits 0 when active
    stop_command: str = setting("")
    status_command: str = setting("")
    stackgraph_status_command: str = setting("")
    timeout: float = setting(300.0, gt=0, unit="seconds")
    # a safety step's patience: the node must come back, e.g. after a stop timeout
    restart_timeout: float = setting(900.0, gt=0, unit="seconds")


@dataclass(frozen=True)
class ProbeSection:
    templates: ClassVar[bool] = True
    kind: str = setting("cli", choices=("cli", "api", "command"))
    types: list[str] = setting(None, factory=lambda: list(DEFAULT_TYPES))
    cli_command: str = setting("{home}/bin/sts graph list --ids {type}")
    api_url: str = setting("http://127.0.0.1:7070")  # kind = "api": GET api_url + api_path, a JSON list per type
    api_path: str = setting("/api/node/{type}")
    command: str = setting("")  # kind = "command": prints {"Type": count} JSON
    concurrency: int = setting(4, ge=1, le=64)  # cli/api: how many types are counted at once (1: one after the other)


@dataclass(frozen=True)
class ElasticsearchSection:
    enabled: bool = setting(True)
    url: str = setting("http://127.0.0.1:9200")
    indices: str = setting("sts_*", required=True)
    repository: str = setting("sts-backup", required=True)
    repository_location: str = setting("")  # set: register an fs repository there (under path.repo)
    restore: str = setting("rename", choices=("rename", "replace"))
    rename_pattern: str = setting("(.+)", regex=True)
    rename_replacement: str = setting("drtests-restored-$1")
    username_env: str = setting("")  # names of environment variables; secrets never live in the file
    password_env: str = setting("")
    api_key_env: str = setting("")
    fingerprint_sample: int = setting(50, ge=1, le=10000)  # ES returns at most 10,000 hits a search
    # "n/t": each drill hashes every document of n t-ths of the indices (rotating with the drill's
    # sequence number), so within t/n drills every index was verified in full; "off": samples only
    full_verify: str = setting("off")
    full_verify_slices: int = setting(2, ge=1, le=16)  # parallel readers per index (sliced point in time)
    timeout: float = setting(1800.0, gt=0, unit="seconds")


@dataclass(frozen=True)
class RestoreClusterSection:
    """A separate Elasticsearch cluster the snapshot is restored into (under the original names),
    so production gets no restore traffic and no new index. It must register the snapshot
    repository read-only: two clusters writing one repository corrupt it."""

    url: str = setting("")  # empty: restore into the production cluster under renamed indices
    username_env: str = setting("")  # names of environment variables, as for elasticsearch
    password_env: str = setting("")
    api_key_env: str = setting("")


@dataclass(frozen=True)
class IsolatedSection:
    """mode = "isolated": the restore runs in a disposable container started from `image`."""

    image: str = setting("")  # an image with StackState installed and systemd as PID 1 (the lab's: make image)
    home: str = setting("/opt/stackstate", required=True, absolute=True)
    unit: str = setting("stackstate.service", required=True)
    stackgraph_unit: str = setting("stackgraph.service", required=True)
    ready_timeout: float = setting(300.0, gt=0, unit="seconds")  # for systemd and both units to be up
    copy_to: str = setting(
        "/tmp", required=True, absolute=True
    )  # folder in the container that receives the backup file


@dataclass(frozen=True)
class ExistingSection:
    """mode = "existing": which of the install's own backups to verify, and how to compare
    without a drill-time baseline."""

    # the graph backup: this file, or one picked from stackstate.backup_dir by name pattern
    backup_file: str = setting("")
    backup_pattern: str = setting("sts-backup-*.graph", required=True)  # what sts-backup.sh writes
    pick: str = setting("newest", choices=("newest", "random"))  # random: any within window_days
    window_days: float = setting(7.0, gt=0, unit="days")
    include_drill_backups: bool = setting(False)  # drtests-*.graph files made by drills are candidates too
    # the snapshot: this name, or the newest SUCCESS one holding elasticsearch.indices, or the one
    # that started nearest the graph backup's time
    snapshot: str = setting("")
    snapshot_pick: str = setting("newest", choices=("newest", "nearest"))
    # without backup-time facts (drtests record-backup), each type's restored count may differ from
    # the live count by this share of the live count
    topology_tolerance: float = setting(0.10, ge=0, le=1)


@dataclass(frozen=True)
class AlertsSection:
    # the newest backup file or snapshot older than the RPO objective: warn, fail the drill, or nothing
    stale_backup: str = setting("warn", choices=("warn", "fail", "off"))
    webhook_url_env: str = setting("")  # an environment variable holding a URL that gets each drill's JSON summary
    webhook_timeout: float = setting(10.0, gt=0, unit="seconds")
    # an environment variable holding Apprise URLs (slack://..., mailto://..., json://...): a message per drill
    notify_env: str = setting("")
    notify_on: str = setting("fail", choices=("fail", "always"))  # fail: only drills that did not pass
    notify_timeout: float = setting(20.0, gt=0, unit="seconds")  # for all the URLs together


@dataclass(frozen=True)
class RetentionSection:
    # `drtests prune` keeps the backup files and snapshots of this many newest drills of the target
    # (and a gate's rollback point until a newer gate passed); it deletes only what drills made
    keep_drill_artifacts: int = setting(3, ge=1)


@dataclass(frozen=True)
class ObjectivesSection:
    rto_seconds: float = setting(4 * 3600.0, gt=0, unit="seconds")
    rpo_seconds: float = setting(24 * 3600.0, gt=0, unit="seconds")


@dataclass(frozen=True)
class DrillConfig:
    drill: DrillSection = field(default_factory=DrillSection)
    target: TargetSection = field(default_factory=TargetSection)
    stackstate: StackStateSection = field(default_factory=StackStateSection)
    service: ServiceSection = field(default_factory=ServiceSection)
    probe: ProbeSection = field(default_factory=ProbeSection)
    elasticsearch: ElasticsearchSection = field(default_factory=ElasticsearchSection)
    isolated: IsolatedSection = field(default_factory=IsolatedSection)
    restore_cluster: RestoreClusterSection = field(default_factory=RestoreClusterSection)
    existing: ExistingSection = field(default_factory=ExistingSection)
    alerts: AlertsSection = field(default_factory=AlertsSection)
    retention: RetentionSection = field(default_factory=RetentionSection)
    objectives: ObjectivesSection = field(default_factory=ObjectivesSection)
    source: str = "<defaults>"
    sha256: str = ""

    @property
    def target_name(self) -> str:
        """The install's name in evidence, history and fleets: target.name, else host:home."""
        return self.target.name or f"{urlparse(self.target.url).hostname or 'localhost'}:{self.stackstate.home}"

    @property
    def state_dir(self) -> str:
        """Where drtests keeps its state on the target: the lock, the restore ledger and the pid
        files of running exports and imports (the lock file's folder)."""
        return posixpath.dirname(self.path(self.target.lock_file)) or "/"

    def path(self, template: str, **extra: str) -> str:
        """Expand a path template: {home}, {graph} and any extra placeholders, as they are."""
        return template.format(home=self.stackstate.home, graph=self.stackstate.graph, **extra)

    def command(self, template: str, **extra: str) -> str:
        """Expand a shell command template: every substituted value is quoted for the shell, so a
        home with a space works and a graph named `x; touch y` is a name, not a command."""
        values = {"home": self.stackstate.home, "graph": self.stackstate.graph, **extra}
        return template.format(**{key: shlex.quote(value) for key, value in values.items()})

    def secret(self, env_key: str, section: str = "elasticsearch") -> str | None:
        name = getattr(getattr(self, section), env_key)
        return os.environ.get(name) if name else None


def _check_value(source: str, key: str, value: object, hint: object) -> object:
    """Type-check one value against its annotation (bool, int, float, str, list[str])."""
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(hint, type) and issubclass(hint, StrEnum):  # one of its words; any other: _check_rules says so
        if not isinstance(value, str):
            raise ConfigError(source, key, f"must be str, got {type(value).__name__} {value!r}")
        return hint(value) if value in hint._value2member_map_ else value
    origin = typing.get_origin(hint)
    if origin is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(source, key, f"must be a list of strings, got {value!r}")
        return value
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ConfigError(source, key, f"must be {hint.__name__}, got {type(value).__name__} {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(source, key, f"must be a finite number, got {value!r}")
    return value


def _check_rules(source: str, key: str, value: object, rules: typing.Mapping[str, object]) -> None:
    """What the key's declaration says a value must be."""
    unit = f" {rules['unit']}" if rules.get("unit") else ""
    if (choices := rules.get("choices")) and value not in choices:
        raise ConfigError(source, key, f"must be one of {', '.join(choices)}, got {value!r}")
    if (gt := rules.get("gt")) is not None and not value > gt:
        raise ConfigError(source, key, f"must be > {gt:g}{unit}")
    if (ge := rules.get("ge")) is not None and not value >= ge:
        raise ConfigError(source, key, f"must be >= {ge:g}{unit}")
    if (le := rules.get("le")) is not None and not value <= le:
        raise ConfigError(source, key, f"must be <= {le:g}{unit}")
    if rules.get("required") and not str(value).strip():
        raise ConfigError(source, key, "must not be empty")
    if rules.get("absolute") and not str(value).startswith(("/", "{home}")):
        raise ConfigError(source, key, f"must be an absolute path (or start with {{home}}), got {value!r}")
    if rules.get("regex"):
        try:
            re.compile(value)
        except re.error as exc:
            raise ConfigError(source, key, f"invalid regular expression: {exc}") from None


def _check_template(source: str, key: str, template: str) -> None:
    """Placeholders as str.format reads them: only the known ones; literal braces doubled."""
    allowed = ", ".join("{" + k + "}" for k in sorted(TEMPLATE_KEYS))
    try:
        fields_used = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:  # a lone { or }
        raise ConfigError(
            source, key, f"{exc}: write a literal brace as {{{{ or }}}} (placeholders: {allowed})"
        ) from None
    for placeholder in fields_used:
        if placeholder not in TEMPLATE_KEYS:
            raise ConfigError(source, key, f"unknown placeholder {{{placeholder}}} (allowed: {allowed}; write a "
                              "literal brace as {{ or }})")  # fmt: skip


def _section(source: str, name: str, cls: type, raw: object) -> object:
    """One [section] of the file: known keys only, each of its declared type and rules."""
    if not isinstance(raw, dict):
        raise ConfigError(source, name, f"must be a table ([{name}]), got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    declared = {f.name: f for f in fields(cls)}
    for key in raw:
        if key not in declared:
            raise ConfigError(source, f"{name}.{key}", f"unknown key (known: {', '.join(sorted(declared))})")
    values = {k: _check_value(source, f"{name}.{k}", v, hints[k]) for k, v in raw.items()}
    section = cls(**values)
    for f in fields(cls):
        value = getattr(section, f.name)
        _check_rules(source, f"{name}.{f.name}", value, f.metadata)
        if getattr(cls, "templates", False) and isinstance(value, str):
            _check_template(source, f"{name}.{f.name}", value)
    return section


def _cross_checks(cfg: DrillConfig) -> None:
    """The rules no single key can state: what a key's value requires of the others."""
    src = cfg.source
    if "ns" not in re.compile(cfg.stackstate.watermark_pattern).groupindex:
        raise ConfigError(src, "stackstate.watermark_pattern", "needs a named group (?P<ns>...) for the nanoseconds")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}", cfg.drill.name):
        raise ConfigError(src, "drill.name", "letters, digits, '.', '_' and '-' only, up to 63 (it names evidence "
                          f"folders, snapshots and containers), got {cfg.drill.name!r}")  # fmt: skip
    if cfg.target.name and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}", cfg.target.name):
        raise ConfigError(src, "target.name", "letters, digits, '.', '_' and '-' only, up to 63 (it names evidence "
                          f"folders and snapshots), got {cfg.target.name!r}")  # fmt: skip
    for key, url, fix in (
        ("target.url", cfg.target.url, "use target.ssh_identity_file or an ssh agent"),
        ("elasticsearch.url", cfg.elasticsearch.url, "name environment variables in elasticsearch.username_env "
         "and password_env (or api_key_env)"),
        ("probe.api_url", cfg.probe.api_url, "the API probe takes no credentials"),
    ):  # fmt: skip
        if urlparse(url).password is not None:
            raise ConfigError(src, key, f"holds a password: secrets never go in the config (it is hashed into "
                              f"evidence and shown by plan); {fix}")  # fmt: skip
    scheme = urlparse(cfg.target.url).scheme
    if scheme not in ("local", "ssh", "paramiko", "docker", "podman", "kubectl", "ansible"):
        raise ConfigError(
            src, "target.url", f"must be a testinfra host URL like local:// or ssh://user@host, got {cfg.target.url!r}"
        )
    if scheme != "local" and not urlparse(cfg.target.url).hostname:
        raise ConfigError(src, "target.url", f"names no host: {cfg.target.url!r} (e.g. ssh://user@host)")
    urls = [("elasticsearch.url", cfg.elasticsearch.url), ("probe.api_url", cfg.probe.api_url)]
    if cfg.restore_cluster.url:
        urls.append(("restore_cluster.url", cfg.restore_cluster.url))
        if urlparse(cfg.restore_cluster.url).password is not None:
            raise ConfigError(src, "restore_cluster.url", "holds a password: secrets never go in the config; name "
                              "environment variables in restore_cluster.username_env and password_env")  # fmt: skip
        if cfg.restore_cluster.url.rstrip("/") == cfg.elasticsearch.url.rstrip("/"):
            raise ConfigError(src, "restore_cluster.url", "is the production cluster (elasticsearch.url): a restore "
                              "cluster is a separate one; leave it empty to restore under renamed indices")  # fmt: skip
        if not cfg.elasticsearch.enabled:
            raise ConfigError(src, "restore_cluster.url", "needs elasticsearch.enabled = true")
    for key, url in urls:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ConfigError(src, key, f"must be an http(s) URL with a host, got {url!r}")
        try:
            _ = parsed.port  # urllib checks the port only when asked
        except ValueError:
            raise ConfigError(src, key, f"has an invalid port: {url!r}") from None
    if cfg.service.backend == "command":
        for key in ("start_command", "stop_command", "status_command"):
            if not getattr(cfg.service, key):
                raise ConfigError(src, f"service.{key}", 'is required when service.backend = "command"')
    if cfg.drill.mode in (Mode.ISOLATED, Mode.EXISTING) and not cfg.isolated.image:
        raise ConfigError(src, "isolated.image", f'is required when drill.mode = "{cfg.drill.mode}" (the restore '
                          "runs in a disposable host started from it)")  # fmt: skip
    if cfg.drill.mode == Mode.EXISTING and cfg.elasticsearch.restore != "rename":
        raise ConfigError(src, "elasticsearch.restore", 'must be "rename" when drill.mode = "existing": verifying a '
                          "backup never deletes or overwrites production indices")  # fmt: skip
    if cfg.existing.backup_file and not cfg.existing.backup_file.startswith("/"):
        raise ConfigError(src, "existing.backup_file", f"must be an absolute path, got {cfg.existing.backup_file!r}")
    if "/" in cfg.existing.backup_pattern:
        raise ConfigError(src, "existing.backup_pattern", "is a file name pattern inside stackstate.backup_dir "
                          f"(no '/'), got {cfg.existing.backup_pattern!r}")  # fmt: skip
    if cfg.probe.kind == "command" and not cfg.probe.command:
        raise ConfigError(src, "probe.command", 'is required when probe.kind = "command"')
    if not cfg.probe.types and cfg.probe.kind != "command":
        raise ConfigError(src, "probe.types", "must name at least one node type")
    for section in ("elasticsearch", "restore_cluster"):
        for key in ("username_env", "password_env", "api_key_env"):
            name = getattr(getattr(cfg, section), key)
            if name and name not in os.environ:
                raise ConfigError(src, f"{section}.{key}", f"names environment variable {name}, which is not set")
    if cfg.restore_cluster.password_env and not cfg.restore_cluster.username_env:
        raise ConfigError(src, "restore_cluster.username_env", "is required with restore_cluster.password_env")
    if cfg.alerts.webhook_url_env and cfg.alerts.webhook_url_env not in os.environ:
        raise ConfigError(src, "alerts.webhook_url_env", f"names environment variable {cfg.alerts.webhook_url_env}, "
                          "which is not set")  # fmt: skip
    replacement = cfg.elasticsearch.rename_replacement
    groups = [int(n) for n in re.findall(r"\$(\d+)", replacement)]
    available = re.compile(cfg.elasticsearch.rename_pattern).groups
    if any(n > available for n in groups):
        raise ConfigError(src, "elasticsearch.rename_replacement", f"refers to group ${max(groups)}, but "
                          f"elasticsearch.rename_pattern has {available} group(s)")  # fmt: skip
    if 1 not in groups:
        raise ConfigError(src, "elasticsearch.rename_replacement", "must keep the original name: include $1 "
                          f"(e.g. drtests-restored-$1), got {replacement!r}")  # fmt: skip
    if not re.match(r"[a-z0-9][a-z0-9._-]*-", replacement.split("$", 1)[0]):
        raise ConfigError(src, "elasticsearch.rename_replacement", "must start with a fixed prefix ending in '-' "
                          f"before $1 (e.g. drtests-restored-$1), so restored copies never take a live index's "
                          f"name, got {replacement!r}")  # fmt: skip
    spec = cfg.elasticsearch.full_verify
    share = re.fullmatch(r"([1-9]\d*)/([1-9]\d*)", spec)
    if spec != "off" and (not share or int(share[1]) > int(share[2])):
        problem = ('must be "off" or "n/t" with 1 <= n <= t (e.g. "1/7": a seventh of the indices each drill, every '
                   f"index once in 7 drills), got {spec!r}")  # fmt: skip
        raise ConfigError(src, "elasticsearch.full_verify", problem)
    if cfg.alerts.notify_env and cfg.alerts.notify_env not in os.environ:
        raise ConfigError(src, "alerts.notify_env", f"names environment variable {cfg.alerts.notify_env}, "
                          "which is not set")  # fmt: skip
    if cfg.elasticsearch.password_env and not cfg.elasticsearch.username_env:
        raise ConfigError(src, "elasticsearch.username_env", "is required with elasticsearch.password_env")


SECTIONS = {f.name: f.type for f in fields(DrillConfig) if f.name not in ("source", "sha256")}


def _read(path: str | Path) -> tuple[dict, str]:
    """The TOML document of a config file and the file's sha256. Raises ConfigError."""
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError(source, "", "file not found") from None
    except IsADirectoryError:
        raise ConfigError(source, "", "is a folder (a fleet of configs: drtests run --config DIR)") from None
    except OSError as exc:
        raise ConfigError(source, "", f"cannot read: {exc.strerror}") from None
    try:
        return tomllib.loads(data.decode()), hashlib.sha256(data).hexdigest()
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(source, "", f"not valid TOML: {exc}") from None


def _build(raw: dict, source: str, sha256: str, overrides: dict[str, object] | None) -> DrillConfig:
    """A validated DrillConfig from a TOML document with the CLI overrides applied last."""
    hints = typing.get_type_hints(DrillConfig)
    for dotted, value in (overrides or {}).items():
        section, _, key = dotted.partition(".")
        hint = typing.get_type_hints(hints[section]).get(key, str) if section in hints else str
        table = raw.setdefault(section, {})
        if not isinstance(table, dict):
            raise ConfigError(source, section, f"must be a table ([{section}]), got {type(table).__name__}")
        table[key] = _typed(value, hint)
    sections = {}
    for name, raw_section in raw.items():
        if name not in SECTIONS:
            raise ConfigError(source, name, f"unknown section (known: {', '.join(SECTIONS)})")
        sections[name] = _section(source, name, hints[name], raw_section)
    for name, cls in hints.items():  # sections absent from the file: their defaults must hold too
        if name in SECTIONS and name not in sections:
            sections[name] = _section(source, name, cls, {})
    cfg = DrillConfig(**sections, source=source, sha256=sha256)
    _cross_checks(cfg)
    return cfg


def load(path: str | Path, overrides: dict[str, object] | None = None) -> DrillConfig:
    """Read, merge CLI overrides ("section.key": value), validate. Raises ConfigError."""
    raw, sha256 = _read(path)
    if "fleet" in raw:
        raise ConfigError(str(path), "fleet", "this config drills several targets: load it with load_fleet")
    return _build(raw, str(path), sha256, overrides)


def load_fleet(path: str | Path, overrides: dict[str, object] | None = None) -> list[DrillConfig]:
    """Every install one run drills: a folder of configs (one drill per *.toml, named by its file
    unless target.name is set), a config with [[fleet]] entries (each entry's sections override the
    shared ones), or a plain config (a fleet of one). CLI overrides apply to every member."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.toml"))
        if not files:
            raise ConfigError(str(path), "", "folder holds no *.toml drill configs")
        configs = []
        for file in files:
            cfg = load(file, overrides)
            configs.append(cfg if cfg.target.name else with_overrides(cfg, target={"name": file.stem}))
    else:
        raw, sha256 = _read(path)
        members = raw.pop("fleet", None)
        if members is None:
            return [_build(raw, str(path), sha256, overrides)]
        if not isinstance(members, list) or not members or not all(isinstance(m, dict) for m in members):
            raise ConfigError(str(path), "fleet", "must be one or more [[fleet]] tables, one per target")
        configs = [_fleet_member(raw, member, f"{path} [[fleet]] #{number}", sha256, overrides)
                   for number, member in enumerate(members, 1)]  # fmt: skip
    seen: dict[str, str] = {}
    for cfg in configs:
        if cfg.target_name in seen:
            raise ConfigError(cfg.source, "target.name", f"{cfg.target_name!r} names two targets of the fleet "
                              f"(also {seen[cfg.target_name]}): each needs its own name")  # fmt: skip
        seen[cfg.target_name] = cfg.source
    return configs


def _fleet_member(shared: dict, member: dict, source: str, sha256: str, overrides: dict | None) -> DrillConfig:
    merged = {name: dict(table) if isinstance(table, dict) else table for name, table in shared.items()}
    for name, table in member.items():
        if not isinstance(table, dict):
            raise ConfigError(source, name, f"must be a table of keys (e.g. {name}.key = ...), got {table!r}")
        base = merged.setdefault(name, {})
        if isinstance(base, dict):
            base.update(table)
    if not isinstance(member.get("target"), dict) or not member["target"].get("name"):
        raise ConfigError(source, "target.name", "is required in every [[fleet]] entry: it names the target")
    return _build(merged, source, sha256, overrides)


def parse_overrides(assignments: list[str], source: str = "--set") -> dict[str, str]:
    """["section.key=value", ...] -> {"section.key": "value"}; typed later, by the key's type."""
    overrides: dict[str, str] = {}
    for assignment in assignments:
        dotted, sep, text = assignment.partition("=")
        if not sep or "." not in dotted:
            raise ConfigError(source, assignment, "must look like section.key=value")
        overrides[dotted.strip()] = text
    return overrides


def _typed(text: object, hint: object) -> object:
    """A --set value as the key's type: strings stay as typed; others are read as TOML values."""
    if not isinstance(text, str) or hint is str:
        return text
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # the type check names the key and the expected type


def with_overrides(cfg: DrillConfig, **section_values: dict[str, object]) -> DrillConfig:
    """A copy with some keys replaced, e.g. with_overrides(cfg, target={"disposable": True})."""
    changes = {name: replace(getattr(cfg, name), **values) for name, values in section_values.items()}
    return replace(cfg, **changes)
