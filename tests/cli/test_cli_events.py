"""``weir events send``: one queued run per listening flow, once per event id."""

from __future__ import annotations

import json


def test_an_event_queues_a_run_of_each_listening_flow_with_the_payload_as_params(weir, project, store_runs):
    result = weir("events", "send", "orders", "--payload", '{"order": 4}', "--id", "e-1", "--json")

    assert result.code == 0, result
    data = result.json()
    assert data["event_id"] == "e-1" and data["already_received"] is False
    runs = store_runs()
    assert sorted(r["flow_name"] for r in runs) == ["audit_orders", "on_orders"]
    assert {r["trigger"] for r in runs} == {"event"}
    assert {r["state"] for r in runs} == {"queued"}
    assert {r["run_key"] for r in runs} == {"event:audit_orders:e-1", "event:on_orders:e-1"}
    assert json.loads(runs[0]["params"])["order"] == 4
    assert sorted(data["run_ids"]) == [r["id"] for r in runs]


def test_an_event_sent_twice_with_one_id_starts_its_runs_once(weir, project, store_runs):
    first = weir("events", "send", "orders", "--payload", '{"order": 1}', "--id", "same")
    again = weir("events", "send", "orders", "--payload", '{"order": 1}', "--id", "same")

    assert first.code == 0 and again.code == 0, again
    assert "already received" in again.out
    assert len(store_runs()) == 2


def test_an_event_without_an_id_gets_a_new_one_each_time(weir, project, store_runs):
    one = weir("events", "send", "orders", "--payload", '{"order": 1}', "--json").json()
    two = weir("events", "send", "orders", "--payload", '{"order": 1}', "--json").json()

    assert one["event_id"] != two["event_id"]
    assert len(store_runs()) == 4


def test_an_event_nobody_listens_to_is_refused_and_not_stored(weir, project, store_runs):
    result = weir("events", "send", "nobody-cares")

    assert result.code == 2
    assert "no flow listens to event 'nobody-cares'" in result.err
    assert store_runs() == []


def test_a_payload_that_is_not_a_json_object_is_refused_naming_it(weir, project, store_runs):
    not_json = weir("events", "send", "orders", "--payload", "{order: 1}")
    not_object = weir("events", "send", "orders", "--payload", "[1, 2]")

    assert not_json.code == 2 and "invalid payload: not JSON" in not_json.err
    assert not_object.code == 2 and "invalid payload: expected a JSON object" in not_object.err
    assert store_runs() == []


def test_a_payload_that_is_not_valid_params_names_the_flow_and_field(weir, project, store_runs):
    result = weir("events", "send", "orders", "--payload", '{"order": "many"}')

    assert result.code == 2
    assert "invalid params for flow" in result.err and "order:" in result.err
    assert store_runs() == []


def test_a_paused_listener_is_skipped_and_all_paused_is_refused(weir, project, store_runs):
    assert weir("pause", "audit_orders").code == 0
    some = weir("events", "send", "orders", "--payload", '{"order": 1}', "--json")
    assert some.code == 0, some
    assert some.json()["paused"] == ["audit_orders"]
    assert [r["flow_name"] for r in store_runs()] == ["on_orders"]

    assert weir("pause", "on_orders").code == 0
    refused = weir("events", "send", "orders", "--payload", '{"order": 2}')
    assert refused.code == 2
    assert "paused" in refused.err
    assert len(store_runs()) == 1
