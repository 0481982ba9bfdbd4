"""The path beside the graph path: what it did goes into the record when the graph path fails."""

import threading

import pytest

from drtests.parallel import Beside, Cancelled, graph_path, step_beside
from drtests.record.drill import Step


def test_a_failed_graph_path_records_the_steps_the_path_beside_it_began_once() -> None:
    release = threading.Event()

    def restore(path: Beside) -> str:
        with path.timed_step("restore", "restore snapshot"):
            path.settle()  # its removal is registered: the failure need not wait longer
            release.wait(10)
        return "restored"

    steps: list[Step] = []
    path = Beside("restore", restore)
    with pytest.raises(RuntimeError, match="stop refused"):
        with graph_path(path, steps, wait=True):
            raise RuntimeError("stop refused")
    assert [(s.name, s.outcome) for s in steps] == [("restore snapshot", "failed")]  # still running
    release.set()
    path.join_into(steps, every=lambda: None)
    assert [(s.name, s.outcome) for s in steps] == [("restore snapshot", "done")]  # the same entry, once
    assert path.result() == "restored"


def test_a_graph_path_that_ends_well_leaves_the_steps_to_the_join() -> None:
    def restore(path: Beside) -> None:
        with path.timed_step("restore", "restore snapshot"):
            pass

    steps: list[Step] = []
    path = Beside("restore", restore)
    with graph_path(path, steps, wait=True):
        pass
    assert steps == []
    path.join_into(steps, every=lambda: None)
    assert [s.name for s in steps] == ["restore snapshot"]


def test_a_step_beside_keeps_its_place_in_the_record_and_its_own_time_and_outcome() -> None:
    """The counts at snapshot time run beside the snapshot: their step is recorded before the
    snapshot's although it may end after it, with its own duration; a failure or a cancel leaves
    it "failed" and hands the error to result()."""
    release = threading.Event()
    steps: list[Step] = []
    counting = step_beside(steps, "backup", "count", lambda beside: release.wait(10) and 42)
    steps.append(Step("backup", "snapshot"))
    assert [(s.name, s.outcome) for s in steps] == [("count", "failed"), ("snapshot", "done")]  # still running
    release.set()
    counting.wait()
    assert counting.result() == 42 and steps[0].outcome == "done" and steps[0].started

    cancelled = threading.Event()

    def refused(beside: Beside) -> None:
        cancelled.wait(10)
        beside.check_cancelled()

    stopped = step_beside(steps, "backup", "count", refused)
    stopped.cancel()
    cancelled.set()
    stopped.wait()
    assert steps[-1].outcome == "failed"
    with pytest.raises(Cancelled, match="stopped: the other path"):
        stopped.result()
