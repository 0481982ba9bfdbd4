"""The graph proof's cost: what the ids, content and relations comparison adds to a drill.

    python -m bench.graph_proof                      # 100,000 nodes in a lab, 1,000,000 in memory
    python -m bench.graph_proof --nodes 2000 --memory-nodes 20000 --runs 1   # seconds

On a lab seeded with --nodes (half Components, half Relations), alternating, each figure the
median (min-max) of --runs: a plain read of the graph (GET /api/node/<Type> per type, JSON
parsed: the read the verify phase makes anyway), the probe's listing of it (the same read, kept
as ids and digests), and the proof against a before-listing with the default sample
(content_share "off": the sample only) and with every node compared ("1/1"), each against a
before-listing made as the baseline makes it. Then the peak RSS of
a process that holds two listings of --memory-nodes nodes (before and after) and proves them in
full. Prints a JSON object; --out appends the rows to a Markdown file.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from drtests.config import load, with_overrides
from drtests.hosts.host import TargetHost
from drtests.record.drill import Drill
from drtests.topology import checks
from drtests.topology.probes import make_probe
from drtests.topology.proof import listing_of
from fixtures.lab import Lab

ROOT = Path(__file__).resolve().parent.parent


def spread(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3), "max": round(max(values), 3)}


def plain_read(url: str, types: list[str]) -> int:
    """Every type's nodes, parsed: the read itself, nothing kept."""

    def get(node_type: str) -> int:
        with urllib.request.urlopen(f"{url}/api/node/{node_type}", timeout=600) as resp:
            return len(json.loads(resp.read()))

    with ThreadPoolExecutor(max_workers=4) as pool:
        return sum(pool.map(get, types))


def drill_for(tmp: Path, url: str, share: str) -> Drill:
    (tmp / "d.toml").write_text("")
    cfg = with_overrides(load(tmp / "d.toml"), probe={"kind": "api", "api_url": url, "content_share": share})
    return Drill(cfg, target="local://")


def bench_lab(nodes: int, runs: int) -> dict:
    """The read, the listing and the proof at `nodes` nodes, in the lab."""
    with tempfile.TemporaryDirectory(prefix="drtests-bench-graph-") as folder:
        root = Path(folder)
        lab = Lab(root / "lab")
        lab.install(heartbeat_seconds=3600)  # the graph holds still: both sides are one state
        lab.start_stackstate()
        try:
            lab.seed_graph(nodes // 2, nodes - nodes // 2)
            url = f"http://127.0.0.1:{lab.settings()['api_port']}"
            host, found = (
                TargetHost("local://"),
                {k: [] for k in ("plain", "listing", "sample", "full_listing", "full")},
            )
            for share, listing_key, proof_key in (("off", "listing", "sample"), ("1/1", "full_listing", "full")):
                drill = drill_for(root, url, share)
                probe = make_probe(drill.config, host)
                before = probe.listings(checks.choice_for(drill.config, drill))  # the baseline's read
                for _ in range(runs):
                    t0 = time.perf_counter()
                    read = plain_read(url, drill.config.probe.types)
                    found["plain"].append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    after = probe.listings(checks.kept_by(before))  # the verify phase's read
                    found[listing_key].append(time.perf_counter() - t0)
                    drill = drill_for(root, url, share)
                    t0 = time.perf_counter()
                    checks.prove_graph(drill, "verify", drill.config, before, after, False)
                    found[proof_key].append(time.perf_counter() - t0)
                    assert not drill.failed_checks(), [c.message for c in drill.failed_checks()]
        finally:
            lab.down()
    figures = {k: spread(v) for k, v in found.items()}
    plain, median = figures["plain"]["median"], {k: f["median"] for k, f in figures.items()}
    return {
        "nodes": read,
        **figures,
        "added_sample_s": round(median["listing"] - plain + median["sample"], 3),
        "full_ratio": round((median["full_listing"] + median["full"]) / plain, 3),
    }


def synthetic(node_type: str, count: int, first_id: int, components: int):
    """`count` nodes of one type as GET /api/node/<Type> shows them, made one at a time."""
    for i in range(count):
        node = {"id": first_id + i, "_type": node_type, "name": f"{node_type.lower()}-{i}",
                "lastUpdateTimestamp": 1_700_000_000_000 + i, "layer": i % 5, "domain": i % 3,
                "labels": [f"team:{'abcd'[i % 4]}"], "version": i % 100}  # fmt: skip
        if node_type == "Relation":
            node |= {"source": 1 + (i * 7) % components, "target": 1 + (i * 13) % components, "type": i % 6}
        yield node


def memory_child(nodes: int) -> None:
    """Two listings (before, after) of `nodes` nodes, half Components, half Relations, made from
    nodes generated one at a time (the listings alone, not an answer held whole), proven in full;
    prints the peak RSS in MB."""
    half = nodes // 2
    before = {"Component": listing_of(synthetic("Component", half, 1, half)),
              "Relation": listing_of(synthetic("Relation", nodes - half, half + 1, half))}  # fmt: skip
    after = {"Component": listing_of(synthetic("Component", half, 1, half)),
             "Relation": listing_of(synthetic("Relation", nodes - half, half + 1, half))}  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        drill = drill_for(Path(folder), "http://127.0.0.1:1", "1/1")
        drill = Drill(with_overrides(drill.config, probe={"types": ["Component", "Relation"]}), target="local://")
        checks.prove_graph(drill, "verify", drill.config, before, after, False)
        assert not drill.failed_checks(), [c.message for c in drill.failed_checks()]
    print(round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))


def bench_memory(nodes: int) -> float:
    out = subprocess.run([sys.executable, "-m", "bench.graph_proof", "--memory-child", str(nodes)], cwd=ROOT,
                         check=True, capture_output=True, text=True)  # fmt: skip
    return float(out.stdout.strip().splitlines()[-1])


def rows(r: dict, command: str) -> list[str]:
    n = r["lab"]["nodes"]
    shown = {k: r["lab"][k] for k in ("plain", "listing", "sample", "full_listing", "full")}

    def s(key: str) -> str:
        f = shown[key]
        return f"{f['median']} ({f['min']}-{f['max']})"

    return [
        "",
        f"## The graph proof's cost ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        f"Command: `{command}`; {n} nodes in the lab, {r['memory_nodes']} in memory, median (min-max) of "
        f"{r['runs']} runs.",
        "",
        "| measure | result | target | verdict |",
        "|---|---|---|---|",
        f"| plain read of the graph, every type (s) | {s('plain')} | reported | - |",
        f"| the probe's listing of it, the sample kept whole (the verify read) (s) | {s('listing')} | reported | - |",
        f"| proof with the sample (100 per type) (s) | {s('sample')} | reported | - |",
        f"| added on the critical path with the sample (listing - plain read + proof) (s) | "
        f"{r['lab']['added_sample_s']} | <= 2 s | {'met' if r['lab']['added_sample_s'] <= 2 else '**missed**'} |",
        f"| the probe's listing with every node kept whole (s) | {s('full_listing')} | reported | - |",
        f"| proof of every node (s) | {s('full')} | reported | - |",
        f"| listing + proof of every node / plain read | {r['lab']['full_ratio']} | <= 1.2 | "
        f"{'met' if r['lab']['full_ratio'] <= 1.2 else '**missed**'} |",
        f"| peak RSS of a process holding two listings of {r['memory_nodes']} nodes, proven in full (MB) | "
        f"{r['memory_mb']} | <= 200 MB | "
        f"{'met' if r['memory_mb'] <= 200 else '**missed**'} |",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--memory-nodes", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, help="append the rows to this Markdown file (bench/RESULTS.md)")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return 0
    result = {"runs": args.runs, "lab": bench_lab(args.nodes, args.runs), "memory_nodes": args.memory_nodes,
              "memory_mb": bench_memory(args.memory_nodes)}  # fmt: skip
    print(json.dumps(result, indent=2))
    if args.out:
        command = "python -m bench.graph_proof " + " ".join(sys.argv[1:])
        with args.out.open("a") as f:
            f.write("\n".join(rows(result, command)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
