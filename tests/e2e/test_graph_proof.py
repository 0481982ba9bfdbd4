"""The graph proof on the real lab, in every mode: a restore that brings back another graph with
every type's count kept fails verify with checks that name the changed nodes and relations."""

from __future__ import annotations

from tests.e2e.conftest import DrillLab
from tests.e2e.test_drill import assert_target_healthy

# A user check run after the import, before verify: it rewrites the restored graph through the lab
# StackGraph's own HTTP API, keeping every count: 5 Components renamed with their data changed,
# 5 re-created under new ids (their relations left pointing at the old ones), 5 Relations pointed
# at another existing Component. Every rewritten node keeps its last_updated: it is the backup's.
REWRITE = r'''
import shlex
import pytest

SCRIPT = """
import json, sys, urllib.request
port = json.load(open(sys.argv[1] + "/etc/lab.json"))["stackgraph_port"]
url = f"http://127.0.0.1:{port}/graphs/default/nodes"
nodes = json.load(urllib.request.urlopen(url))
components = [n for n in nodes if n["type"] == "Component"]
relations = [n for n in nodes if n["type"] == "Relation"]
top = max(n["id"] for n in nodes) + 1
for n in components[:5]:
    n["name"] += "-renamed"
    n["data"] = json.dumps({**json.loads(n["data"]), "renamed": True})
old = [n["id"] for n in components[5:10]]
for i, n in enumerate(components[5:10]):
    n["id"] = top + i
for n in relations[:5]:
    data = json.loads(n["data"])
    data["source"] = next(c["id"] for c in reversed(components) if c["id"] not in (data["source"], data["target"]))
    n["data"] = json.dumps(data)
body = json.dumps(nodes).encode()
post = urllib.request.Request(url + "?replace=true", body, {"Content-Type": "application/json"}, method="POST")
urllib.request.urlopen(post).read()
print(json.dumps({"renamed": [n["id"] for n in components[:5]], "old_ids": old,
                  "rewired": [n["id"] for n in relations[:5]]}))
"""


@pytest.mark.dr_check("restore")
def test_rewrite_the_restored_graph_keeping_every_count(dr_restore_site):
    site = dr_restore_site
    home = site.config.stackstate.home
    result = site.host.run(f"python3 -c {shlex.quote(SCRIPT)} {shlex.quote(home)}", 120)
    assert result.rc == 0, result.tail(5)
    print("REWRITTEN", result.stdout.strip())
'''


def assert_rewrite_fails_verify(drill_lab: DrillLab, *mode_args: str) -> None:
    """Run a drill with REWRITE (every node compared): verify fails naming each change, the
    counts pass, the target is healthy; elsewhere than in place, production's graph untouched."""
    counts, graph_before = drill_lab.doc_counts(), drill_lab.lab.graph_types()
    checks = drill_lab.add_checks(REWRITE)
    # the fault lands between the restore and the verify phase: with the paths one after the other the
    # checks read after the restore (side by side they read each copy as it becomes usable, before this check)
    result = drill_lab.run(
        *mode_args, "--set", "probe.content_share=1/1", "--set", "drill.parallel_paths=false", "--", checks
    )
    assert result.returncode == 1, result.stdout[-3000:]
    evidence = drill_lab.evidence()
    verdicts = {c["name"]: c["verdict"] for c in evidence["checks"]}
    failed = {c["name"]: c["message"] for c in evidence["checks"] if c["verdict"] == "fail"}
    assert verdicts["test_rewrite_the_restored_graph_keeping_every_count"] == "pass"
    assert all(verdicts.get(f"topology {t}") == "pass" for t in graph_before), failed  # the counts kept
    proof = evidence["topology"]["proof"]
    components, relations = proof["types"]["Component"], proof["types"]["Relation"]
    assert components["compared_how"] == relations["compared_how"] == "every node"  # content_share = 1/1
    # against the live graph (an existing backup), a restored id live lacks may have been deleted since
    live = "drill.mode=existing" in mode_args
    assert (components["missing_n"], components["new_n"], components["gone_since_backup_n"]) == (
        (5, 0, 5) if live else (5, 5, 0)
    )
    assert (
        f"topology type Component: other ids after the restore: 5 missing ({', '.join(components['missing'])})"
        in (failed["topology ids Component"])
    )
    assert components["differing_n"] == 5 and all(d["fields"] == ["name", "data"] for d in components["differing"])
    assert "5 of " in failed["topology content Component"] and "(name, data)" in failed["topology content Component"]
    assert relations["differing_n"] == 5 and all(d["fields"] == ["source"] for d in relations["differing"])
    assert "(source)" in failed["topology content Relation"]
    dangling = proof["relations"]["dangling"]
    assert dangling and {end for d in dangling for end in d["missing"]} <= set(components["missing"])
    assert failed["topology relations whole"].startswith(f"{proof['relations']['dangling_n']} of ")
    assert set(failed) == {"topology ids Component", "topology content Component", "topology content Relation",
                           "topology relations whole"}, failed  # fmt: skip
    assert_target_healthy(drill_lab, counts)
    if mode_args:
        assert drill_lab.lab.graph_types() == graph_before  # production's graph was never touched


def test_a_restored_graph_rewritten_in_place_with_its_counts_kept_fails_verify_naming_each_change(
    drill_lab: DrillLab,
) -> None:
    assert_rewrite_fails_verify(drill_lab)  # isolated and existing: tests/e2e/test_existing.py


def test_a_clean_drill_compares_a_sample_and_proves_every_type(drill_lab: DrillLab) -> None:
    drill_lab.configure(api_all_path='""')  # one GET per type (the other e2e drills list every type at once)
    result = drill_lab.run("--set", "probe.content_share=off", "--set", "probe.content_sample=7")
    assert result.returncode == 0, result.stdout[-3000:]
    evidence = drill_lab.evidence()
    proof = evidence["topology"]["proof"]
    assert proof["probe_reads"] == "ids and content" and proof["threshold_ns"] <= evidence["watermark_ns"]
    for node_type, found in proof["types"].items():
        assert found["ids_before_sha256"] == found["ids_after_sha256"] or found["written_after_n"], node_type
        comparable = evidence["topology"]["before"][node_type] - found["written_after_n"]
        assert found["differing_n"] == 0 and found["compared_n"] == min(7, comparable), node_type
    assert proof["types"]["Component"]["compared_how"] == "a sample of 7"
    assert proof["relations"]["dangling_n"] == 0 and proof["relations"]["checked_n"] > 0
    names = {c["name"] for c in evidence["checks"] if c["verdict"] == "pass"}
    assert {"topology ids Component", "topology content Relation", "topology relations whole"} <= names
    html = (drill_lab.reports / "latest" / "report.html").read_text()
    assert "Topology: ids, content, relations" in html
    drill_lab.assert_drill_followed_its_plan(evidence, "--set", "probe.content_share=off")


def test_the_cli_probe_proves_ids_and_leaves_content_unproven(drill_lab: DrillLab) -> None:
    drill_lab.configure(probe_kind='"cli"')
    result = drill_lab.run()
    assert result.returncode != 0, result.stdout[-3000:]
    evidence = drill_lab.evidence()
    assert evidence["verdict"] == "incomplete"
    checks = {c["name"]: c for c in evidence["checks"]}
    assert checks["topology ids Component"]["verdict"] == "pass"
    assert checks["topology content Component"]["verdict"] == "unproven"
    assert checks["topology content Component"]["message"] == "unproven: content: not readable by the cli probe"
    assert checks["topology relations whole"]["verdict"] == "unproven"
