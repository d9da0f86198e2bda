"""Task runs, tries and events: compare-and-set steps, reads with and without results, the grid."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from weir.errors import NotFoundError, StaleStateError
from weir.store import runs, tasks
from weir.store.records import (
    Changes,
    EventRecord,
    RunChange,
    TaskRunChange,
    TaskRunRecord,
    TryRecord,
)
from weir.store.store import Store
from weir.store.tables import EventRow

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)


def at(seconds: int) -> datetime:
    return NOW + timedelta(seconds=seconds)


def task_run(store: Store, run_id: int, task_id: str, map_index: int = -1) -> TaskRunRecord:
    with store.read() as conn:
        found = [r for r in tasks.get_task_runs(conn, run_id, task_id) if r.map_index == map_index]
    assert len(found) == 1
    return found[0]


def moved(record: TaskRunRecord, state: str, **fields: Any) -> TaskRunChange:
    """The change of ``record`` from its state to ``state`` (and ``fields``)."""
    return TaskRunChange(expected=record.state, record=dataclasses.replace(record, state=state, **fields))


def event(
    run_id: int, task_id: str | None, from_state: str | None, to_state: str, when: datetime
) -> EventRecord:
    return EventRecord(
        run_id=run_id,
        task_id=task_id,
        map_index=-1 if task_id else None,
        from_state=from_state,
        to_state=to_state,
        at=when,
    )


def apply(store: Store, changes: Changes) -> None:
    with store.transaction() as tx:
        tasks.apply_changes(tx, changes)


def states_of(store: Store, run_id: int) -> dict[str, str]:
    with store.read() as conn:
        return {r.label: r.state for r in tasks.get_task_runs(conn, run_id)}


def test_apply_changes_moves_task_runs_and_the_run_from_their_expected_states(
    store: Store, add_run: Callable[..., int]
) -> None:
    run_id = add_run()
    extract = task_run(store, run_id, "extract")
    apply(
        store,
        Changes(
            task_runs=[moved(extract, "scheduled")],
            runs=[RunChange(run_id=run_id, expected="queued", state="running", started_at=at(1))],
        ),
    )
    assert states_of(store, run_id) == {"extract": "scheduled", "load": "pending"}
    with store.read() as conn:
        run = runs.get_run(conn, run_id)
    assert (run.state, run.started_at) == ("running", at(1))


def test_a_stale_task_run_state_raises_naming_the_run_and_the_rolled_back_step_changes_nothing(
    store: Store, add_run: Callable[..., int]
) -> None:
    run_id = add_run()
    extract, load = task_run(store, run_id, "extract"), task_run(store, run_id, "load")
    apply(store, Changes(task_runs=[moved(extract, "scheduled")]))
    stale = Changes(
        new_task_runs=[TaskRunRecord(run_id=run_id, task_id="late")],
        task_runs=[moved(load, "scheduled"), moved(extract, "skipped")],
        events=[event(run_id, "load", "pending", "scheduled", at(1))],
    )
    with pytest.raises(StaleStateError) as raised, store.transaction() as tx:
        tasks.apply_changes(tx, stale)
    assert raised.value.run_ids == (run_id,)
    assert "1 of 2 task run(s)" in str(raised.value)
    assert states_of(store, run_id) == {"extract": "scheduled", "load": "pending"}
    with store.read() as conn:
        assert [e.to_state for e in tasks.get_events(conn, run_id)] == ["queued"]


def test_a_stale_run_state_raises_naming_the_run(store: Store, add_run: Callable[..., int]) -> None:
    run_id = add_run()
    with pytest.raises(StaleStateError, match=f"run {run_id} was not running") as raised:
        apply(
            store, Changes(runs=[RunChange(run_id=run_id, expected="running", state="success", ended_at=NOW)])
        )
    assert raised.value.run_ids == (run_id,)
    with store.read() as conn:
        run = runs.get_run(conn, run_id)
    assert (run.state, run.ended_at) == ("queued", None)


def test_new_task_runs_are_inserted_by_a_step(store: Store, add_run: Callable[..., int]) -> None:
    run_id = add_run(tasks=("fan",))
    apply(
        store,
        Changes(
            new_task_runs=[TaskRunRecord(run_id=run_id, task_id="fan", map_index=i) for i in range(2)],
            task_runs=[moved(task_run(store, run_id, "fan"), "scheduled", map_count=2)],
        ),
    )
    assert states_of(store, run_id) == {"fan": "scheduled", "fan[0]": "pending", "fan[1]": "pending"}
    assert task_run(store, run_id, "fan").map_count == 2


def test_a_new_try_is_inserted_then_updated_with_its_outcome(
    store: Store, add_run: Callable[..., int]
) -> None:
    run_id = add_run()
    started = TryRecord(
        run_id=run_id,
        task_id="extract",
        map_index=-1,
        number=1,
        state="running",
        started_at=at(1),
        worker="w1",
    )
    apply(store, Changes(new_tries=[started]))
    with store.read() as conn:
        assert tasks.try_state(conn, run_id, "extract", -1, 1) == "running"
    ended = dataclasses.replace(
        started, state="success", ended_at=at(3), result_data=b"42", result_size=2, log_path="1/extract/1.log"
    )
    apply(store, Changes(tries=[ended]))
    with store.read() as conn:
        assert tasks.get_tries(conn, run_id) == [ended]
        assert tasks.try_state(conn, run_id, "extract", -1, 1) == "success"
        assert tasks.try_state(conn, run_id, "extract", -1, 2) is None


def test_tries_are_read_with_or_without_their_result_bytes(store: Store, add_run: Callable[..., int]) -> None:
    run_id = add_run(tasks=("extract", "load"))
    tries = [
        TryRecord(
            run_id=run_id, task_id=task_id, map_index=-1, number=number, state="failed", result_data=b"r"
        )
        for task_id in ("load", "extract")
        for number in (2, 1)
    ]
    apply(store, Changes(new_tries=tries))
    with store.read() as conn:
        every = tasks.get_tries(conn, run_id)
        brief = tasks.get_tries(conn, run_id, results=False)
        loads = tasks.get_tries(conn, run_id, "load", -1)
        one = tasks.get_try(conn, run_id, "load", -1, 2)
        with pytest.raises(NotFoundError, match=f"task load of run {run_id} has no try 3"):
            tasks.get_try(conn, run_id, "load", -1, 3)
        with pytest.raises(NotFoundError, match=rf"task load\[0\] of run {run_id} has no try 1"):
            tasks.get_try(conn, run_id, "load", 0, 1)
    assert [(t.task_id, t.number) for t in every] == [
        ("extract", 1),
        ("extract", 2),
        ("load", 1),
        ("load", 2),
    ]
    assert {t.result_data for t in every} == {b"r"}
    assert [(t.task_id, t.number, t.result_data) for t in brief] == [
        ("extract", 1, None),
        ("extract", 2, None),
        ("load", 1, None),
        ("load", 2, None),
    ]
    assert [(t.task_id, t.number) for t in loads] == [("load", 1), ("load", 2)]
    assert (one.number, one.state, one.result_data) == (2, "failed", None)


def test_events_come_back_oldest_first_and_page_on(store: Store, add_run: Callable[..., int]) -> None:
    run_id = add_run()
    apply(
        store,
        Changes(
            events=[
                event(run_id, None, "queued", "running", at(1)),
                event(run_id, "extract", "pending", "scheduled", at(1)),
            ]
        ),
    )
    apply(store, Changes(events=[event(run_id, "extract", "scheduled", "queued", at(2))]))
    with store.read() as conn:
        every = tasks.get_events(conn, run_id)
        assert [(e.task_id, e.from_state, e.to_state) for e in every] == [
            (None, None, "queued"),
            (None, "queued", "running"),
            ("extract", "pending", "scheduled"),
            ("extract", "scheduled", "queued"),
        ]
        assert [e.at for e in every] == [NOW, at(1), at(1), at(2)]
        first_two = tasks.get_events(conn, run_id, limit=2)
        assert first_two == every[:2]
    other = add_run()
    with store.read() as conn:
        assert [e.run_id for e in tasks.get_events(conn, other)] == [other]


def test_events_after_a_cursor_are_the_newer_ones(store: Store, add_run: Callable[..., int]) -> None:
    run_id = add_run()
    apply(store, Changes(events=[event(run_id, None, "queued", "running", at(1))]))
    events_t = EventRow.__table__
    with store.read() as conn:
        ids = list(conn.execute(select(events_t.c.id).where(events_t.c.run_id == run_id)).scalars())
        newer = tasks.get_events(conn, run_id, after=min(ids))
    assert [e.to_state for e in newer] == ["running"]


def test_delete_elements_forgets_a_mapped_nodes_elements_and_their_tries(
    store: Store, add_run: Callable[..., int]
) -> None:
    run_id = add_run(tasks=("fan", "other"))
    apply(
        store,
        Changes(
            new_task_runs=[TaskRunRecord(run_id=run_id, task_id="fan", map_index=i) for i in range(2)],
            new_tries=[
                TryRecord(run_id=run_id, task_id="fan", map_index=index, number=1, state="failed")
                for index in (-1, 0, 1)
            ]
            + [TryRecord(run_id=run_id, task_id="other", map_index=-1, number=1, state="failed")],
        ),
    )
    with store.transaction() as tx:
        tasks.delete_elements(tx, run_id, "fan")
    assert states_of(store, run_id) == {"fan": "pending", "other": "pending"}
    with store.read() as conn:
        assert [(t.task_id, t.map_index) for t in tasks.get_tries(conn, run_id)] == [
            ("fan", -1),
            ("other", -1),
        ]


def test_the_grid_shows_the_latest_runs_oldest_first_with_their_nodes(
    store: Store, add_run: Callable[..., int]
) -> None:
    ids = [add_run("etl", created=at(i), tasks=("extract", "fan")) for i in range(3)]
    add_run("other", created=at(10))
    apply(
        store,
        Changes(
            new_task_runs=[TaskRunRecord(run_id=ids[2], task_id="fan", map_index=0)],
            task_runs=[moved(task_run(store, ids[2], "extract"), "scheduled")],
        ),
    )
    with store.read() as conn:
        grid = tasks.grid(conn, "etl", runs=2)
        assert tasks.grid(conn, "nothing") == tasks.Grid(runs=[])
    assert grid.runs == [(ids[1], "queued", at(1)), (ids[2], "queued", at(2))]
    assert sorted(grid.cells) == [(ids[1], "extract"), (ids[1], "fan"), (ids[2], "extract"), (ids[2], "fan")]
    assert grid.cells[(ids[2], "extract")].state == "scheduled"
    assert grid.cells[(ids[2], "fan")].map_index == -1


def test_a_task_runs_pool_note_and_cache_key_round_trip(store: Store, add_run: Callable[..., int]) -> None:
    with store.transaction() as tx:
        run_id = runs.create_run(
            tx,
            flow_name="etl",
            flow_version="v1",
            params={},
            trigger="manual",
            executor="inline",
            now=NOW,
            task_runs=[TaskRunRecord(run_id=0, task_id="query", pool="db")],
        )
    query = task_run(store, run_id, "query")
    assert (query.pool, query.note, query.cache_key) == ("db", None, None)
    waiting = moved(query, "scheduled", note="waiting for a slot of pool 'db' (2 of 2 taken)")
    apply(store, Changes(task_runs=[waiting]))
    assert task_run(store, run_id, "query").note == "waiting for a slot of pool 'db' (2 of 2 taken)"
    cached = moved(waiting.record, "cached", note=None, cache_key="k" * 64, ended_at=at(1))
    apply(store, Changes(task_runs=[cached]))
    assert task_run(store, run_id, "query") == TaskRunRecord(
        run_id=run_id,
        task_id="query",
        state="cached",
        pool="db",
        note=None,
        cache_key="k" * 64,
        ended_at=at(1),
    )


def test_figures_count_task_runs_and_finished_tries(store: Store, add_run: Callable[..., int]) -> None:
    run_id = add_run("etl", tasks=("extract", "fan"))
    apply(
        store,
        Changes(
            new_task_runs=[TaskRunRecord(run_id=run_id, task_id="fan", map_index=0)],
            task_runs=[
                moved(task_run(store, run_id, "extract"), "scheduled"),
                moved(task_run(store, run_id, "fan"), "scheduled", map_count=1),
            ],
            new_tries=[
                TryRecord(
                    run_id=run_id,
                    task_id="extract",
                    map_index=-1,
                    number=1,
                    state="success",
                    started_at=at(1),
                    ended_at=at(2),
                ),
                TryRecord(
                    run_id=run_id, task_id="fan", map_index=0, number=1, state="running", started_at=at(1)
                ),
            ],
        ),
    )
    with store.read() as conn:
        assert sorted(tasks.task_runs_by_flow_and_state(conn)) == [
            ("etl", "pending", 1),
            ("etl", "scheduled", 1),
        ]
        assert list(tasks.finished_try_times(conn)) == [("etl", "success", at(1), at(2))]
        assert tasks.task_runs_in_states(conn, ["scheduled", "pending"]) == 3
        assert tasks.task_runs_in_states(conn, ["running"]) == 0
