"""Files drtests writes on a target (the lock, the drill state, the restore ledger) reach it on a
command's stdin, never as a command-line argument: a restore ledger of 3,000 indices (about
200 KB, past Linux's 128 KiB limit for one argument) is written and read back whole."""

from __future__ import annotations

from pathlib import Path

from drtests import recovery
from drtests.config import load
from drtests.hosts.host import TargetHost
from drtests.sign import keys

CLUSTER = "Xq3v0yTNSg6m1c0n2YH3bA"


def ledger_names(count: int = 3000) -> list[str]:
    groups = ("sts_topo_process_instances", "sts_metrics", "sts_trace_events", "sts_multi_metrics")
    return [f"drtests-restored-{groups[n % 4]}-2026.{n // 120 + 1:02d}.{n % 120:03d}" for n in range(count)]


def round_trip(host: TargetHost, lock_file: str, tmp_path: Path) -> None:
    """The restore ledger of 3,000 names written through `host`, each line signed, and read back
    as a drill's restore and a later --recover do (a line edited on the target is not proven);
    then the same content replacing a file in one step."""
    private, _ = keys.generate(tmp_path / "keys")
    (tmp_path / "d.toml").write_text(
        f'[target]\nlock_file = "{lock_file}"\n[evidence]\nsigning_key_file = "{private}"\n'
    )
    cfg = load(tmp_path / "d.toml")
    names = ledger_names()
    content = "".join(f"{name}\t{CLUSTER}\n" for name in names)
    assert len(content.encode()) > 128 * 1024  # more than one argument may hold
    recovery.write_ledger(cfg, host, names, CLUSTER, "20261201T000000Z-abcd")
    assert recovery.ledger_entries(cfg, host) == [recovery.LedgerLine(name, CLUSTER) for name in names]
    ledger = recovery.ledger_path(cfg)
    edited = host.read(ledger).replace(names[7], "drtests-restored-someone-elses", 1)
    assert host.replace(ledger, edited)
    proven = [line.name for line in recovery.ledger_entries(cfg, host) if line.proven]
    assert len(proven) == len(names) - 1 and "drtests-restored-someone-elses" not in proven
    assert host.replace(lock_file + ".copy", content) and host.read(lock_file + ".copy") == content
    assert not host.write_new(lock_file + ".copy", "other")  # never replaces what is there
    assert host.read(lock_file + ".copy") == content


def test_a_3000_index_restore_ledger_on_a_local_target(tmp_path: Path) -> None:
    round_trip(TargetHost("local://"), str(tmp_path / "drtests.lock"), tmp_path)


def test_a_transport_without_stdin_gets_the_content_in_parts(tmp_path: Path) -> None:
    """paramiko://, kubectl://, ansible://: the parts path, run here through a local host."""
    host, before = TargetHost("local://"), set(Path("/tmp").glob("drtests-feed-*"))
    content = "".join(f"{name}\t{CLUSTER}\n" for name in ledger_names())
    path = tmp_path / "ledger"
    assert host.feed_in_parts(f"cat > {path}", content, 60)
    assert path.read_text() == content
    assert set(Path("/tmp").glob("drtests-feed-*")) == before  # its temporary file is gone
