"""Topology probes: what the graph holds, per type, read from the running node."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote as url_quote

from drtests.config import DrillConfig
from drtests.errors import DrillError
from drtests.hosts.host import TargetHost
from drtests.topology.proof import Choice, Listing, listing_of
from drtests.waiting import Every, wait_until

Keep = Choice | dict[str, set[str]] | None  # which nodes a listing keeps whole (see Probe.listings)


class Probe:
    """Lists each type's nodes: their ids, and their content where the probe reads it. Subclasses
    say how; counts are the listings' sizes, so the graph is never read twice for one state."""

    kind = ""
    reads = "ids"  # what a listing holds: "ids", "ids and content", or "counts" only

    def __init__(self, cfg: DrillConfig, host: TargetHost) -> None:
        self.cfg, self.host = cfg, host

    def listings(self, keep: Keep = None) -> dict[str, Listing]:
        """Every type's listing, probe.concurrency types at a time (each look is a CLI start or an
        API call that waits on the server, not on us). `keep`: which nodes to keep whole for the
        content comparison (a Choice, or per type the ids the before side kept; None: all)."""
        types = self.cfg.probe.types

        def one(node_type: str) -> Listing:
            return self.listing(node_type, kept_of(keep, node_type))

        with ThreadPoolExecutor(max_workers=max(1, min(self.cfg.probe.concurrency, len(types)))) as pool:
            return dict(zip(types, pool.map(one, types), strict=True))

    def counts(self) -> dict[str, int]:
        return counts_of(self.listings())

    def listing(self, node_type: str, keep: Choice | set[str] | None = None) -> Listing:
        raise NotImplementedError

    def look(self) -> None:
        """One look (the first type's listing): raises DrillError when the node does not answer."""
        self.listing(self.cfg.probe.types[0])


def kept_of(keep: Keep, node_type: str) -> Choice | set[str] | None:
    """Which of one type's nodes a listing keeps whole: the Choice, the before side's ids, or all."""
    return keep.get(node_type, set()) if isinstance(keep, dict) else keep


def counts_of(listings: dict[str, Listing]) -> dict[str, int]:
    return {node_type: len(listing.ids) for node_type, listing in listings.items()}


class CliProbe(Probe):
    """`sts graph list --ids <Type>` per type (4.6 CLI), one id per output line: ids, no content."""

    kind = "cli"

    def listing(self, node_type: str, keep: Choice | set[str] | None = None) -> Listing:
        result = self.host.run(self.cfg.command(self.cfg.probe.cli_command, type=node_type), 300)
        if result.rc != 0:
            raise DrillError(f"topology probe {result.command!r} exited {result.rc}: {result.tail(3)}")
        return Listing({line.strip() for line in result.stdout.splitlines() if line.strip()})


class ApiProbe(Probe):
    """GET <api_url><api_path> per type; the answer is a JSON list of nodes (id, name, the other
    fields: their content). probe.api_from = "host": the GET runs on the host (api_get), for an
    API the runner cannot reach (a disposable restore host has no network)."""

    kind = "api"
    reads = "ids and content"

    def listings(self, keep: Keep = None) -> dict[str, Listing]:
        """probe.api_all_path: every type from one answer, each node filed under its _type; else
        one GET per type (Probe.listings)."""
        probe = self.cfg.probe
        if not probe.api_all_path:
            return super().listings(keep)
        nodes = self.fetch(probe.api_url.rstrip("/") + probe.api_all_path)
        by_type: dict[str, list] = {node_type: [] for node_type in probe.types}
        for node in nodes:
            if isinstance(node, dict) and node.get("_type") in by_type:
                by_type[node["_type"]].append(node)
        return {node_type: listing_of(found, kept_of(keep, node_type)) for node_type, found in by_type.items()}

    def listing(self, node_type: str, keep: Choice | set[str] | None = None) -> Listing:
        probe = self.cfg.probe
        return listing_of(
            self.fetch(probe.api_url.rstrip("/") + probe.api_path.format(type=url_quote(node_type))), keep
        )

    def fetch(self, url: str) -> list:
        """GET `url` (on the host with probe.api_from = "host"): a JSON list of nodes."""
        nodes = self.get_on_host(url) if self.cfg.probe.api_from == "host" else self.get(url)
        if not isinstance(nodes, list):
            raise DrillError(f"topology probe GET {url} did not return a JSON list")
        return nodes

    def get(self, url: str):
        try:
            with urllib.request.urlopen(url, timeout=300) as resp:
                return json.loads(resp.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise DrillError(f"topology probe GET {url} failed: {exc}") from None

    def get_on_host(self, url: str):
        result = self.host.run(self.cfg.command(self.cfg.probe.api_get, url=url), 300)
        if result.rc != 0:
            raise DrillError(f"topology probe {result.command!r} exited {result.rc}: {result.tail(3)}")
        try:
            return json.loads(result.stdout)
        except ValueError:
            raise DrillError(f"topology probe {result.command!r} did not print JSON: {result.tail(3)}") from None


class CommandProbe(Probe):
    """Any command that prints {"Type": count} JSON: counts only."""

    kind = "command"
    reads = "counts"

    def look(self) -> None:
        self.counts()

    def listings(self, keep: Keep = None) -> dict[str, Listing]:
        raise DrillError("the command probe prints counts only")  # never asked: counts() is its answer

    def counts(self) -> dict[str, int]:
        result = self.host.run(self.cfg.command(self.cfg.probe.command), 600)
        if result.rc != 0:
            raise DrillError(f"topology probe {result.command!r} exited {result.rc}: {result.tail(3)}")
        try:
            counts = json.loads(result.stdout)
        except ValueError:
            raise DrillError(f"topology probe {result.command!r} did not print JSON: {result.tail(3)}") from None
        if not isinstance(counts, dict) or not all(isinstance(v, int) for v in counts.values()):
            raise DrillError(f'topology probe {result.command!r} must print {{"Type": count}}, got {result.tail(1)}')
        return counts


def read_graph(probe: Probe, keep: Keep = None) -> tuple[dict[str, int], dict[str, Listing] | None]:
    """(counts per type, listings per type: None where the probe gives counts only)."""
    if probe.reads == "counts":
        return probe.counts(), None
    listings = probe.listings(keep)
    return counts_of(listings), listings


PROBES: dict[str, type[Probe]] = {p.kind: p for p in (CliProbe, ApiProbe, CommandProbe)}


def probe_description(cfg: DrillConfig) -> str:
    """How the probe counts, in words for a plan."""
    probe = cfg.probe
    if probe.kind == "cli":
        return f"`{cfg.command(probe.cli_command, type='<Type>')}` for {', '.join(probe.types)}"
    if probe.kind == "api":
        on_host = f" (on the host: `{probe.api_get}`)" if probe.api_from == "host" else ""
        if probe.api_all_path:
            return f"GET {probe.api_url}{probe.api_all_path}{on_host} once: {', '.join(probe.types)} by _type"
        return f"GET {probe.api_url}{probe.api_path}{on_host} for {', '.join(probe.types)}"
    return f"`{cfg.command(probe.command)}`"


def make_probe(cfg: DrillConfig, host: TargetHost) -> Probe:
    return PROBES[cfg.probe.kind](cfg, host)


def wait_until_answering(probe: Probe, timeout: float, say: Callable[[str], None]) -> float:
    """A node that was just started is `active` before it serves (a real StackState loads for
    minutes): the probe looks until it answers, within `timeout`; the seconds it took. WaitTimeout
    names the probe's last error."""
    started, why = time.monotonic(), ""

    def answers() -> bool:
        nonlocal why
        try:
            probe.look()
        except DrillError as exc:
            why = str(exc)
            return False
        return True

    wait_until(answers, timeout, lambda: f"the node did not answer the topology probe within {timeout:g}s: {why}",
               interval=0.5, on_wait=Every(10, lambda: say(f"waiting for the node to answer: {why}")))  # fmt: skip
    return round(time.monotonic() - started, 3)
