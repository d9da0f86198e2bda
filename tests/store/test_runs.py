"""Runs: creation with task runs and a first event, run keys, listings, cancel requests, counts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

import weir
from weir.errors import DuplicateRunError
from weir.graph.snapshot import snapshot_to_json
from weir.sdk.snapshot import snapshot_of
from weir.store import flows, runs, tasks
from weir.store.records import Changes, RunChange, TaskRunRecord
from weir.store.store import Store

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return NOW + timedelta(minutes=minutes)


@weir.task
def extract() -> int:
    return 1


@weir.flow(tags=["nightly"])
def etl() -> object:
    return extract()


@weir.flow(tags=["adhoc"])
def report() -> object:
    return extract()


def finish(store: Store, run_id: int, state: str, result: bytes | None = None) -> None:
    """Take a queued run through running to ``state``."""
    with store.transaction() as tx:
        tasks.apply_changes(
            tx,
            Changes(runs=[RunChange(run_id=run_id, expected="queued", state="running", started_at=NOW)]),
        )
        tasks.apply_changes(
            tx,
            Changes(
                runs=[
                    RunChange(
                        run_id=run_id, expected="running", state=state, ended_at=at(1), result_data=result
                    )
                ]
            ),
        )


def test_create_run_adds_a_queued_run_its_pending_task_runs_and_its_first_event(store: Store) -> None:
    with store.transaction() as tx:
        run_id = runs.create_run(
            tx,
            flow_name="etl",
            flow_version="v1",
            params={"day": "2024-06-01"},
            trigger="schedule",
            executor="local",
            now=NOW,
            task_runs=[
                TaskRunRecord(run_id=0, task_id="extract", max_tries=3),
                TaskRunRecord(run_id=0, task_id="load"),
            ],
            run_key="etl@2024-06-01",
            logical_date=NOW,
            interval=(NOW - timedelta(days=1), NOW),
        )
    with store.read() as conn:
        run = runs.get_run(conn, run_id)
        task_runs = tasks.get_task_runs(conn, run_id)
        events = tasks.get_events(conn, run_id)
        by_key = runs.find_by_key(conn, "etl@2024-06-01")
    assert (run.flow_name, run.flow_version, run.state, run.trigger, run.executor) == (
        "etl",
        "v1",
        "queued",
        "schedule",
        "local",
    )
    assert run.params == {"day": "2024-06-01"}
    assert (run.created_at, run.logical_date) == (NOW, NOW)
    assert (run.interval_start, run.interval_end) == (NOW - timedelta(days=1), NOW)
    assert (run.owner, run.fence, run.cancel_requested) == (None, 0, False)
    assert [(t.task_id, t.state, t.max_tries) for t in task_runs] == [
        ("extract", "pending", 3),
        ("load", "pending", 1),
    ]
    assert [(e.task_id, e.from_state, e.to_state, e.at, e.reason) for e in events] == [
        (None, None, "queued", NOW, "schedule")
    ]
    assert by_key is not None and by_key.id == run_id


def test_a_run_created_with_an_owner_is_claimed_already(store: Store, add_run: Callable[..., int]) -> None:
    run_id = add_run(owner="scheduler-1")
    with store.read() as conn:
        assert runs.get_run(conn, run_id).owner == "scheduler-1"


def test_a_duplicate_run_key_raises_duplicate_run_error_and_writes_nothing(
    store: Store, add_run: Callable[..., int]
) -> None:
    first = add_run(run_key="etl@2024-06-01")
    with pytest.raises(DuplicateRunError, match="exists already"):
        add_run(run_key="etl@2024-06-01", tasks=("other",))
    with store.read() as conn:
        page = runs.list_runs(conn)
        assert [r.id for r in page.runs] == [first]
        assert page.total == 1
        assert [t.task_id for t in tasks.get_task_runs(conn, first)] == ["extract", "load"]
        assert len(tasks.get_events(conn, first)) == 1
    assert add_run(run_key="etl@2024-06-02") > first


def test_an_unknown_run_key_finds_nothing(store: Store) -> None:
    with store.read() as conn:
        assert runs.find_by_key(conn, "nope") is None


def test_list_runs_gives_the_newest_first_with_the_total(store: Store, add_run: Callable[..., int]) -> None:
    ids = [add_run(created=at(i)) for i in range(3)]
    with store.read() as conn:
        page = runs.list_runs(conn)
    assert [r.id for r in page.runs] == ids[::-1]
    assert page.total == 3


def test_list_runs_filters_by_flow_state_and_trigger(store: Store, add_run: Callable[..., int]) -> None:
    etl_manual = add_run("etl", created=at(0))
    etl_scheduled = add_run("etl", created=at(1), trigger="schedule")
    report_manual = add_run("report", created=at(2))
    finish(store, etl_manual, "success")
    with store.read() as conn:
        assert [r.id for r in runs.list_runs(conn, flow="etl").runs] == [etl_scheduled, etl_manual]
        assert [r.id for r in runs.list_runs(conn, state="queued").runs] == [report_manual, etl_scheduled]
        assert [r.id for r in runs.list_runs(conn, trigger="manual").runs] == [report_manual, etl_manual]
        both = runs.list_runs(conn, flow="etl", state="success")
        assert [r.id for r in both.runs] == [etl_manual]
        assert both.total == 1
        assert runs.list_runs(conn, flow="nope") == runs.RunPage(runs=[], total=0)


def test_list_runs_filters_by_a_tag_of_the_runs_flow(store: Store, add_run: Callable[..., int]) -> None:
    with store.transaction() as tx:
        for flow in (etl, report):
            flows.add_version(tx, snapshot_to_json(snapshot_of(flow)), NOW)
    etl_run = add_run("etl", created=at(0))
    add_run("report", created=at(1))
    with store.read() as conn:
        page = runs.list_runs(conn, tag="nightly")
        assert [(r.id, r.flow_name) for r in page.runs] == [(etl_run, "etl")]
        assert page.total == 1
        assert runs.list_runs(conn, tag="nobody-has-this").total == 0


def test_list_runs_pages_backwards_with_a_before_cursor(store: Store, add_run: Callable[..., int]) -> None:
    ids = [add_run(created=at(i)) for i in range(5)]
    with store.read() as conn:
        first = runs.list_runs(conn, limit=2)
        second = runs.list_runs(conn, limit=2, before=first.runs[-1].id)
        last = runs.list_runs(conn, limit=2, before=second.runs[-1].id)
        by_flow = runs.list_runs(conn, flow="etl", limit=2, before=ids[2])
        offset = runs.list_runs(conn, limit=2, offset=2)
    assert [r.id for r in first.runs] == [ids[4], ids[3]]
    assert [r.id for r in second.runs] == [ids[2], ids[1]]
    assert [r.id for r in last.runs] == [ids[0]]
    assert {first.total, second.total, last.total} == {5}
    assert [r.id for r in by_flow.runs] == [ids[1], ids[0]]
    assert [r.id for r in offset.runs] == [ids[2], ids[1]]


def test_list_runs_can_skip_counting(store: Store, add_run: Callable[..., int]) -> None:
    add_run()
    with store.read() as conn:
        page = runs.list_runs(conn, count=False)
    assert len(page.runs) == 1
    assert page.total == -1


def test_listed_runs_and_get_run_without_result_leave_the_result_bytes_out(
    store: Store, add_run: Callable[..., int]
) -> None:
    run_id = add_run()
    finish(store, run_id, "success", result=b"\x80\x04K*.")
    with store.read() as conn:
        full = runs.get_run(conn, run_id)
        brief = runs.get_run(conn, run_id, result=False)
        listed = runs.list_runs(conn).runs[0]
    assert full.result_data == b"\x80\x04K*."
    assert brief.result_data is None
    assert listed.result_data is None
    assert (brief.state, brief.started_at, brief.ended_at) == ("success", NOW, at(1))
    assert brief.duration == 60.0


def test_a_cancel_request_is_recorded_and_cleared_for_a_rerun(
    store: Store, add_run: Callable[..., int]
) -> None:
    asked, other = add_run(), add_run()
    with store.transaction() as tx:
        runs.request_cancel(tx, asked)
    with store.read() as conn:
        assert runs.cancel_requests(conn, [asked, other]) == [asked]
        assert runs.cancel_requests(conn, []) == []
        assert runs.get_run(conn, asked).cancel_requested is True
        assert runs.get_run(conn, other).cancel_requested is False
    with store.transaction() as tx:
        runs.reset_for_rerun(tx, asked)
    with store.read() as conn:
        assert runs.cancel_requests(conn, [asked]) == []


def test_recent_by_flow_gives_the_newest_runs_of_each_flow(store: Store, add_run: Callable[..., int]) -> None:
    etl_ids = [add_run("etl", created=at(i)) for i in range(4)]
    report_ids = [add_run("report", created=at(10 + i)) for i in range(2)]
    add_run("other", created=at(20))
    with store.read() as conn:
        recent = runs.recent_by_flow(conn, ["etl", "report", "unknown"], 3)
        assert runs.recent_by_flow(conn, ["etl"], 0) == {}
        assert runs.recent_by_flow(conn, [], 3) == {}
    assert recent == {
        "etl": [(etl_ids[3], "queued", at(3)), (etl_ids[2], "queued", at(2)), (etl_ids[1], "queued", at(1))],
        "report": [(report_ids[1], "queued", at(11)), (report_ids[0], "queued", at(10))],
    }


def test_set_owner_changes_the_owner_only_from_the_expected_one(
    store: Store, add_run: Callable[..., int]
) -> None:
    run_id = add_run()
    with store.transaction() as tx:
        assert runs.set_owner(tx, run_id, "a", expected=None) is True
        assert runs.set_owner(tx, run_id, "b", expected=None) is False
        assert runs.set_owner(tx, run_id, "b", expected="c") is False
        assert runs.set_owner(tx, run_id, None, expected="a") is True
    with store.read() as conn:
        assert runs.get_run(conn, run_id).owner is None


def test_counts_by_flow_and_state(store: Store, add_run: Callable[..., int]) -> None:
    done = add_run("etl")
    add_run("etl")
    add_run("report")
    finish(store, done, "failed")
    with store.read() as conn:
        assert runs.count_by_flow(conn) == {"etl": 2, "report": 1}
        assert sorted(runs.by_flow_and_state(conn)) == [
            ("etl", "failed", 1),
            ("etl", "queued", 1),
            ("report", "queued", 1),
        ]
        assert runs.in_state(conn, "queued") == 2
        assert runs.in_state(conn, "running") == 0
