"""The config's sections: each key declared once, with its type, default, allowed values and
bounds next to it (`setting(...)`), and DrillConfig, the whole drill's config."""

from __future__ import annotations

import os
import posixpath
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlparse

from drtests.words import Mode

DEFAULT_TYPES = [
    "Component", "Relation", "ComponentType", "RelationType", "Layer", "Domain", "Environment",
    "QueryView", "Sync", "DataSource", "CheckFunction",
]  # fmt: skip
TEMPLATE_KEYS = {"home", "graph", "file", "type", "url"}


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
    # kind = "api": a path answering every node of every type in one JSON list (each with its _type),
    # asked once instead of once per type; "" (default: 4.6 documents none) asks api_path per type
    api_all_path: str = setting("")
    command: str = setting("")  # kind = "command": prints {"Type": count} JSON
    concurrency: int = setting(4, ge=1, le=64)  # cli/api: how many types are counted at once (1: one after the other)
    api_from: str = setting("runner", choices=("runner", "host"))  # host: the GET runs on the target (api_get)
    api_get: str = setting("curl -fsS --max-time 300 {url}")  # api_from = "host": prints the answer
    relation_type: str = setting("Relation")  # the type whose nodes have a source and a target
    # the graph proof (ids, content, relations): each drill compares a sample of each type's nodes
    # field by field, chosen from the drill's id, and every node of its n of t rotating slots
    content_sample: int = setting(100, ge=0, le=100000)
    content_share: str = setting("1/7")  # "n/t", "1/1": every node every drill, "off": the sample only


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
    # sequence number), so within t/n drills every index was verified in full; "off": samples only.
    # On by default: a drill that hashes only each index's ends misses a change in the middle.
    full_verify: str = setting("1/7")
    # "n/t": each drill restores n t-ths of the snapshot's indices (rotating, by the same slots as
    # full_verify) plus each index group's newest; "1/1": every index, every drill
    restore_share: str = setting("1/1")
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
    # how long a restore host kept with --keep may stay; past it (or when its drill died) the next
    # drill's preflight names it and --recover removes it: a restored copy of production never stays forever
    keep_hours: float = setting(24.0, gt=0, unit="hours")
    # the api probe asks the restore host from inside it (it has no network), at this URL; "":
    # probe.api_url's port on 127.0.0.1 (the image's node listens where the target's does)
    api_url: str = setting("")


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
class MetricsSection:
    # node_exporter's textfile collector folder (--collector.textfile.directory): each drill
    # rewrites drtests_<target>.prom there, atomically; empty: none
    textfile_dir: str = setting("")
    # a Prometheus Pushgateway, e.g. http://pushgateway:9091: each drill pushes its target's metrics
    pushgateway_url: str = setting("")
    job: str = setting("drtests", required=True)  # the Pushgateway job the metrics are grouped under
    timeout: float = setting(10.0, gt=0, unit="seconds")


@dataclass(frozen=True)
class RetentionSection:
    # `drtests prune` keeps the backup files and snapshots of this many newest drills of the target
    # (and a gate's rollback point until a newer gate passed); it deletes only what drills made
    keep_drill_artifacts: int = setting(3, ge=1)


@dataclass(frozen=True)
class EvidenceSection:
    # the drill's ed25519 private key (drtests keygen), relative to this file's folder; empty:
    # $DRTESTS_SIGNING_KEY_FILE, else the drill's evidence is UNSIGNED (and says so)
    signing_key_file: str = setting("")
    # what the key is, shown beside the signature (`make drill`: "lab key, not for production use")
    signing_key_note: str = setting("")
    # the compliance controls this drill is evidence for, e.g. "ISO27001-2022:A.8.13", "SOC2:A1.3"
    controls: list[str] = setting(None, factory=list)
    # how often a control must be proven on this target, "CONTROL=AGE" (e.g. "DORA:Art.12=7d"):
    # each longer gap without a validly signed passing drill is a finding in `drtests controls`
    every: list[str] = setting(None, factory=list)
    # who fixes what a drill of this target finds (a name or address), shown in `drtests deficiencies`
    owner: str = setting("")
    # a failed or unproven check is a deficiency due this many days after the drill that found it
    fix_within_days: int = setting(30, ge=1, unit="days")
    # an RFC 3161 time-stamping authority: each drill's statement gets a timestamp from it
    # (evidence.intoto.tsr beside it); empty: none
    tsa_url: str = setting("")
    tsa_timeout: float = setting(30.0, gt=0, unit="seconds")


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
    evidence: EvidenceSection = field(default_factory=EvidenceSection)
    metrics: MetricsSection = field(default_factory=MetricsSection)
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

    @property
    def signing_key_path(self) -> Path | None:
        """The drill's signing key: evidence.signing_key_file (relative to the config's folder),
        else $DRTESTS_SIGNING_KEY_FILE, else none (the evidence is UNSIGNED)."""
        named = self.evidence.signing_key_file or os.environ.get("DRTESTS_SIGNING_KEY_FILE", "")
        if not named:
            return None
        path = Path(named).expanduser()
        base = Path(self.source).parent if self.evidence.signing_key_file and Path(self.source).is_file() else Path()
        return path if path.is_absolute() else (base / path).absolute()

    def path(self, template: str, **extra: str) -> str:
        """Expand a path template: {home}, {graph} and any extra placeholders, as they are."""
        return template.format(home=self.stackstate.home, graph=self.stackstate.graph, **extra)

    def command(self, template: str, **extra: str) -> str:
        """Expand a shell command template: every substituted value is quoted for the shell, so a
        home with a space works and a graph named `x; touch y` is a name, not a command."""
        values = {"home": self.stackstate.home, "graph": self.stackstate.graph, **extra}
        return template.format(**{key: shlex.quote(value) for key, value in values.items()})

    @property
    def secret_names(self) -> tuple[str, ...]:
        """The environment variables that hold this drill's secrets: the signing key and every
        variable the config names for a password, API key or URL with a token. Commands drtests
        runs on a local:// target never see them."""
        named = [getattr(getattr(self, section), key) for section in ("elasticsearch", "restore_cluster")
                 for key in ("username_env", "password_env", "api_key_env")]  # fmt: skip
        named += [self.alerts.webhook_url_env, self.alerts.notify_env]
        return tuple(dict.fromkeys(["DRTESTS_SIGNING_KEY", "DRTESTS_SIGNING_KEY_FILE", *filter(None, named)]))

    def secret(self, env_key: str, section: str = "elasticsearch") -> str | None:
        name = getattr(getattr(self, section), env_key)
        return os.environ.get(name) if name else None
