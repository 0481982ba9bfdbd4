"""What each phase found, typed: the values one phase hands to the next and to the evidence.

Each phase fills its own result on the Drill record (drill.preflight, drill.baseline, ...);
later phases read them by attribute, and drtests.record.evidence turns them into evidence.json.
None means "not measured" (the phase did not get that far, or the part is disabled).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from drtests.hosts.host import FileFacts


@dataclass
class ElasticsearchFacts:
    url: str
    version: str
    health: str
    repository: dict  # name, type, settings, verified_nodes: as Elasticsearch describes it


@dataclass
class Preflight:
    target_host: str | None = None  # the target's hostname
    stackstate_version: str | None = None  # on the target (stackstate.version_command)
    elasticsearch: ElasticsearchFacts | None = None
    restore_cluster: ElasticsearchFacts | None = None  # where the snapshot is restored, when not production
    leftovers: str | None = None  # what an interrupted drill left, in words
    node_state_at_start: str | None = None  # active | inactive
    drills_before: int = 0  # this target's drills before this one, as its own drill state records them
    sequence: int = 0  # this drill's number for its target, read once (steps.drill_sequence): moves shares on
    ledger_lost: dict | None = None  # --ledger-lost: the head the report folder no longer holds, and why

    @property
    def node_was_active(self) -> bool:
        return self.node_state_at_start == "active"


@dataclass
class Baseline:
    probe: str = ""  # the topology probe's kind
    topology: dict[str, int] = field(default_factory=dict)  # nodes per type
    indices: str = ""  # the index pattern counted
    docs: dict[str, int] | None = None  # docs per index (None: Elasticsearch disabled)
    fingerprints: dict[str, str] | None = None  # mode existing: of the live indices, to compare past days with
    # ids (and content) per type as the probe listed them, for the graph proof: kept in memory only,
    # the evidence holds what was compared (None: the probe gives counts only)
    listings: dict | None = field(default=None, repr=False)


@dataclass
class Snapshot:
    repository: str
    snapshot: str
    uuid: str | None
    state: str
    indices: list[str]
    include_global_state: bool
    shards: dict[str, int]  # total, failed, successful
    failures: list
    start_time: str | None
    end_time: str | None
    duration_ms: int | None


@dataclass
class Selection:
    """What an existing-backup drill picked and why (the backup file, the snapshot)."""

    picked: str
    why: str
    candidates: int  # how many there were to pick from
    shown: list[dict] = field(default_factory=list)  # the newest candidates, as the evidence lists them


@dataclass
class Backup:
    artifact: FileFacts | None = None  # the backup file on the target
    file_selection: Selection | None = None  # mode existing: which of the install's backups, and why
    snapshot_selection: Selection | None = None
    recorded: dict | None = None  # mode existing: the facts drtests record-backup wrote beside the backup
    ages_s: dict[str, float | None] | None = None  # mode existing: age of each store's newest good backup
    docs_at_snapshot: dict[str, int] | None = None
    fingerprints_at_snapshot: dict[str, str] | None = None
    snapshot: Snapshot | None = None
    paths_s: dict[str, float | None] | None = None  # graph (export) and telemetry (snapshot) path, side by side
    full_verify: FullVerify | None = None  # elasticsearch.full_verify: which indices are hashed in full


@dataclass
class FullVerify:
    """Rotating full verification: this drill's share of the indices, every document hashed."""

    share: str  # "n/t"
    sequence: int  # the drill's number among its target's drills (from the history): moves the share on
    indices: list[str]  # hashed in full by this drill (original names)
    source: dict[str, dict] | None = None  # {"docs", "digest"} at snapshot time (existing drills: live)
    restored: dict[str, dict] | None = None  # {"docs", "digest"} of the restored copies, by original name


@dataclass
class RestoreHost:
    """The disposable host an isolated drill restores into."""

    url: str
    image: str
    ready_s: float
    kept: bool = False
    artifact: FileFacts | None = None  # the backup file's copy there
    copied_by: str = ""


@dataclass
class RestoreLog:
    file: str
    offset: int
    excerpt: list[str]


@dataclass
class RestoredTelemetry:
    mode: str  # rename | replace | restore cluster (original names, in the restore cluster)
    indices: dict[str, str]  # original -> restored name
    shards: dict[str, int]
    health: str


@dataclass
class RestoreShare:
    """This drill's share of the snapshot's indices: restored, and not (each in another drill's)."""

    share: str  # "n/t"
    sequence: int  # the drill's number among its target's drills: moves the share on
    restored: list[str]  # original names
    newest: list[str]  # of those, each group's newest (restored whatever its slot)
    not_restored: list[str]
    bytes_restored: int | None = None  # in the repository, of the restored indices
    bytes_total: int | None = None  # of every index of the snapshot: what a full restore reads
    forecast_full_s: float | None = None  # the RTO of a full restore, from this restore's recovery spans
    # the snapshot restore of every index, forecast from this restore's recovery spans: its fixed
    # part, per index and per byte, the overlap of the recoveries (drtests.es.forecast)
    telemetry_full_s: float | None = None
    model: dict | None = None  # fixed_s, per_index_s, per_byte_s, overlap
    throttle: dict | None = None  # indices.recovery.max_bytes_per_sec, data nodes, the least time it allows
    beside_graph_s: float | None = None  # of the snapshot restore, the seconds the graph path and its checks ran beside


@dataclass
class Restore:
    stackstate_version: str | None = None  # on the restore host (in place: the target's)
    host: RestoreHost | None = None  # isolated drills only
    log: RestoreLog | None = None
    watermark_ns: int | None = None  # the backup's newest change ("Contains changes till")
    telemetry: RestoredTelemetry | None = None
    share: RestoreShare | None = None  # elasticsearch.restore_share below "1/1": what this drill restored
    paths_s: dict[str, float | None] | None = None  # graph (import) and telemetry (snapshot restore) path


@dataclass
class Verify:
    topology: dict[str, int] | None = None  # nodes per type after the restore
    graph: dict | None = None  # the graph proof: ids, content, relations (drtests.topology.checks)
    docs: dict[str, int] | None = None  # restored docs per original index
    fingerprints: dict[str, str | None] | None = None  # per original index
    # mode existing: how each restored index was compared with the live one (exact, at most, or
    # not compared: gone from the live cluster), and each type's drift from the live count
    index_rules: dict[str, str] | None = None
    topology_drift: dict[str, float] | None = None
