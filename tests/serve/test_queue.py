"""The server's run queue: order per station, moves, cancellation, and what a restart
finds (waiting runs still waiting, a run that was running shown interrupted)."""

from __future__ import annotations

import pytest

from labrf.errors import LabrfError
from labrf.serve.queue import RunQueue


def test_runs_wait_per_station_in_order_and_can_be_moved_and_cancelled(tmp_path) -> None:
    q = RunQueue(tmp_path / "lab.queue.sqlite")
    a, b, c = (q.submit("bench", "spin-diode", {"points": n}) for n in (11, 12, 13))
    other = q.submit("network", "emission", {})
    assert q.next_for("bench").id == a.id and q.next_for("network").id == other.id
    assert [r.id for r in q.move(c.id, 0)] == [c.id, a.id, b.id]
    assert [r.id for r in q.move(c.id, 99)] == [a.id, b.id, c.id]
    assert q.cancel(b.id) and q.get(b.id).status == "cancelled"
    assert not q.cancel(b.id)  # only a waiting run can be cancelled
    with pytest.raises(LabrfError, match="only waiting runs"):
        q.move(b.id, 0)
    with pytest.raises(LabrfError, match="no run 99"):
        q.get(99)
    assert q.get(a.id).parameters == {"points": 11}


def test_a_restart_keeps_waiting_runs_and_marks_the_running_one_interrupted(tmp_path) -> None:
    path = tmp_path / "lab.queue.sqlite"
    q = RunQueue(path)
    running, waiting = q.submit("bench", "spin-diode", {}), q.submit("bench", "emission", {})
    q.update(running.id, status="running", run_id=7, points=120)
    q.close()
    again = RunQueue(path)
    assert again.get(running.id).status == "interrupted"
    assert again.get(running.id).points == 120 and again.get(running.id).run_id == 7
    assert again.get(waiting.id).status == "queued"
    assert again.next_for("bench").id == waiting.id


def test_an_unusable_queue_file_is_named(tmp_path) -> None:
    with pytest.raises(LabrfError, match="cannot use the run queue .*missing"):
        RunQueue(tmp_path / "missing" / "lab.queue.sqlite")
