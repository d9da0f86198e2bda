"""Flows: versions kept as snapshots, tags, the newest version of each, scheduling state, flow files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import weir
from weir.errors import NotFoundError
from weir.graph.snapshot import CodeKind, CodeRef, snapshot_to_json
from weir.sdk.flow import Flow
from weir.sdk.snapshot import snapshot_of
from weir.store import flows
from weir.store.store import Store

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return NOW + timedelta(minutes=minutes)


@weir.task
def extract() -> int:
    return 1


@weir.task
def load(value: int) -> int:
    return value


@weir.flow(name="etl", tags=["nightly", "core"], description="Copies the day's orders.")
def etl_v1() -> object:
    return extract()


@weir.flow(name="etl", tags=["hourly"])
def etl_v2() -> object:
    return load(extract())


@weir.flow(tags=["nightly"])
def report() -> object:
    return extract()


def snapshot(flow: Flow, code: CodeRef | None = None) -> dict[str, Any]:
    return snapshot_to_json(snapshot_of(flow, code=code))


def add(store: Store, flow: Flow, when: datetime = NOW, code: CodeRef | None = None) -> bool:
    with store.transaction() as tx:
        return flows.add_version(tx, snapshot(flow, code), when)


def test_add_version_keeps_a_snapshot_once_per_name_and_version(store: Store) -> None:
    assert add(store, etl_v1) is True
    assert add(store, etl_v1, at(5)) is False
    version = snapshot(etl_v1)["version"]
    with store.read() as conn:
        record = flows.get_version(conn, "etl", version)
    assert (record.name, record.version, record.created_at) == ("etl", version, NOW)
    assert record.snapshot == snapshot(etl_v1)
    assert record.description == "Copies the day's orders."
    assert [node["task_id"] for node in record.graph_json["nodes"]] == ["extract"]


def test_add_version_records_where_the_code_is(store: Store) -> None:
    add(store, etl_v1, code=CodeRef(kind=CodeKind.FILE, target="flows/etl.py"))
    add(store, report)
    with store.read() as conn:
        in_file = flows.get_version(conn, "etl")
        in_module = flows.get_version(conn, "report")
    assert (in_file.code_kind, in_file.path, in_file.module) == ("file", "flows/etl.py", None)
    assert (in_module.code_kind, in_module.path, in_module.module) == ("module", None, report.fn.__module__)


def test_add_version_makes_the_snapshots_tags_the_flows(store: Store) -> None:
    add(store, etl_v1)
    add(store, report)
    with store.read() as conn:
        assert flows.tags_of(conn, ["etl", "report", "unknown"]) == {
            "etl": ["core", "nightly"],
            "report": ["nightly"],
        }
    add(store, etl_v2, at(1))
    with store.read() as conn:
        assert flows.tags_of(conn, ["etl"]) == {"etl": ["hourly"]}


def test_get_version_without_a_version_gives_the_newest(store: Store) -> None:
    add(store, etl_v1, NOW)
    add(store, etl_v2, at(1))
    with store.read() as conn:
        assert flows.get_version(conn, "etl").version == snapshot(etl_v2)["version"]
        assert flows.get_version(conn, "etl", snapshot(etl_v1)["version"]).created_at == NOW


def test_an_older_version_added_again_becomes_the_newest_once_more(store: Store) -> None:
    add(store, etl_v1, NOW)
    add(store, etl_v2, at(1))
    assert add(store, etl_v1, at(2)) is False
    with store.read() as conn:
        assert flows.get_version(conn, "etl").version == snapshot(etl_v1)["version"]
        assert [f.version for f in flows.newest(conn)] == [snapshot(etl_v1)["version"]]
        assert flows.tags_of(conn, ["etl"]) == {"etl": ["core", "nightly"]}


def test_the_newest_version_added_again_keeps_when_it_was_recorded(store: Store) -> None:
    add(store, etl_v1, NOW)
    add(store, etl_v1, at(1))
    with store.read() as conn:
        assert flows.get_version(conn, "etl").created_at == NOW


def test_get_version_of_an_unknown_flow_or_version_raises_not_found(store: Store) -> None:
    add(store, etl_v1)
    with store.read() as conn:
        with pytest.raises(NotFoundError, match="no flow 'nope'"):
            flows.get_version(conn, "nope")
        with pytest.raises(NotFoundError, match="no flow 'etl' at version 0000"):
            flows.get_version(conn, "etl", "0000")


def test_newest_gives_the_newest_version_of_each_flow_by_name(store: Store) -> None:
    add(store, etl_v2, at(1))
    add(store, etl_v1, NOW)
    add(store, report, at(2))
    with store.read() as conn:
        found = flows.newest(conn)
    assert [(f.name, f.version) for f in found] == [
        ("etl", snapshot(etl_v2)["version"]),
        ("report", snapshot(report)["version"]),
    ]


def test_newest_filters_by_tag_and_by_names(store: Store) -> None:
    add(store, etl_v1, NOW)
    add(store, report, at(1))
    with store.read() as conn:
        assert [f.name for f in flows.newest(conn, tag="nightly")] == ["etl", "report"]
        assert [f.name for f in flows.newest(conn, tag="core")] == ["etl"]
        assert flows.newest(conn, tag="weekly") == []
        assert [f.name for f in flows.newest(conn, names=["report", "unknown"])] == ["report"]
        assert flows.newest(conn, names=[]) == []
        assert [f.name for f in flows.newest(conn, tag="nightly", names=["report"])] == ["report"]


def test_a_flows_state_is_created_with_paused_and_keeps_paused_once_set(store: Store) -> None:
    schedule = {"kind": "cron", "cron": "0 * * * *"}
    with store.transaction() as tx:
        created = flows.upsert_state(
            tx, name="etl", path="flows/etl.py", schedule=schedule, paused=True, now=NOW
        )
    assert (created.paused, created.path, created.schedule, created.updated_at) == (
        True,
        "flows/etl.py",
        schedule,
        NOW,
    )
    moved = {"kind": "cron", "cron": "30 * * * *"}
    with store.transaction() as tx:
        again = flows.upsert_state(
            tx, name="etl", path="flows/new.py", schedule=moved, paused=False, now=at(1)
        )
    assert (again.paused, again.path, again.schedule) == (True, "flows/new.py", moved)
    with store.read() as conn:
        kept = flows.get_state(conn, "etl")
    assert kept is not None
    assert (kept.paused, kept.path, kept.schedule, kept.updated_at) == (True, "flows/new.py", moved, at(1))


def test_an_unchanged_flow_state_is_not_rewritten(store: Store) -> None:
    with store.transaction() as tx:
        flows.upsert_state(tx, name="etl", path="flows/etl.py", schedule=None, paused=False, now=NOW)
        flows.upsert_state(tx, name="etl", path="flows/etl.py", schedule=None, paused=False, now=at(1))
    with store.read() as conn:
        state = flows.get_state(conn, "etl")
    assert state is not None and state.updated_at == NOW


def test_flow_states_are_read_all_or_by_name(store: Store) -> None:
    with store.transaction() as tx:
        for name, paused in (("etl", False), ("report", True)):
            flows.upsert_state(tx, name=name, path=None, schedule=None, paused=paused, now=NOW)
    with store.read() as conn:
        assert sorted(flows.states(conn)) == ["etl", "report"]
        assert list(flows.states(conn, ["report", "unknown"])) == ["report"]
        assert flows.get_state(conn, "unknown") is None
        assert flows.paused_names(conn) == ["report"]


def test_set_paused_pauses_a_known_flow_and_can_reset_its_last_fire(store: Store) -> None:
    with store.transaction() as tx:
        flows.upsert_state(tx, name="etl", path=None, schedule=None, paused=False, now=NOW)
        flows.set_fire(tx, "etl", last_fire=at(-60), next_fire=NOW)
        assert flows.set_paused(tx, "etl", True, at(1)) is True
        assert flows.set_paused(tx, "unknown", True, at(1)) is False
    with store.read() as conn:
        paused = flows.get_state(conn, "etl")
    assert paused is not None
    assert (paused.paused, paused.last_fire, paused.updated_at) == (True, at(-60), at(1))
    with store.transaction() as tx:
        flows.set_paused(tx, "etl", False, at(90), reset_fire=True)
    with store.read() as conn:
        unpaused = flows.get_state(conn, "etl")
    assert unpaused is not None
    assert (unpaused.paused, unpaused.last_fire, unpaused.next_fire) == (False, at(90), NOW)


def test_set_fire_keeps_the_last_fire_when_none_is_given(store: Store) -> None:
    with store.transaction() as tx:
        flows.upsert_state(tx, name="etl", path=None, schedule=None, paused=False, now=NOW)
        flows.set_fire(tx, "etl", last_fire=NOW, next_fire=at(60))
        flows.set_fire(tx, "etl", last_fire=None, next_fire=at(120))
    with store.read() as conn:
        state = flows.get_state(conn, "etl")
    assert state is not None
    assert (state.last_fire, state.next_fire) == (NOW, at(120))


def test_flow_files_are_recorded_replaced_and_forgotten_with_their_errors(store: Store) -> None:
    with store.transaction() as tx:
        flows.record_file(tx, path="flows/b.py", digest="d1", flows=["report"], error=None, now=NOW)
        flows.record_file(tx, path="flows/a.py", digest="d1", flows=[], error="SyntaxError: bad", now=NOW)
        flows.record_file(tx, path="flows/c.py", digest="d1", flows=["etl"], error=None, now=NOW)
    with store.transaction() as tx:
        flows.record_file(tx, path="flows/b.py", digest="d2", flows=["report", "etl2"], error=None, now=at(1))
        flows.forget_files(tx, ["flows/c.py"])
        flows.forget_files(tx, [])
    with store.read() as conn:
        files = flows.files(conn)
    assert [(f.path, f.digest, f.flows, f.loaded_at) for f in files] == [
        ("flows/a.py", "d1", [], NOW),
        ("flows/b.py", "d2", ["report", "etl2"], at(1)),
    ]
    assert [(f.path, f.error) for f in files] == [("flows/a.py", "SyntaxError: bad"), ("flows/b.py", None)]
