"""``POST /api/v1/events``: one queued run per listening flow, idempotent by id, refusals named."""

from __future__ import annotations

from typing import Any


def _runs(settings: Any) -> list[Any]:
    from weir.store import runs
    from weir.store.store import open_store

    with open_store(settings.database_url).read() as conn:
        return runs.list_runs(conn, limit=100).runs


def test_an_event_creates_a_queued_run_of_each_listening_flow(event_client: Any, event_settings: Any) -> None:
    response = event_client.post("/api/v1/events", json={"name": "orders.arrived", "payload": {"n": 4}})

    assert response.status_code == 201
    body = response.json()
    runs = _runs(event_settings)
    assert sorted(body["run_ids"]) == sorted(r.id for r in runs)
    assert sorted(r.flow_name for r in runs) == ["audit", "orders"]
    assert {(str(r.state), r.trigger) for r in runs} == {("queued", "event")}
    assert all(r.params["n"] == 4 for r in runs)
    assert body["name"] == "orders.arrived"
    assert body["id"] and body["already_received"] is False and body["paused"] == []


def test_an_event_sent_again_with_its_id_is_a_200_and_creates_nothing(
    event_client: Any, event_settings: Any
) -> None:
    event = {"name": "orders.arrived", "payload": {"n": 1}, "id": "order-17"}
    first = event_client.post("/api/v1/events", json=event)
    again = event_client.post("/api/v1/events", json=event)

    assert first.status_code == 201 and first.json()["id"] == "order-17"
    assert again.status_code == 200
    assert again.json()["already_received"] is True
    assert again.json()["run_ids"] == []
    assert sorted(again.json()["existing_run_ids"]) == sorted(first.json()["run_ids"])
    assert len(_runs(event_settings)) == 2


def test_a_payload_that_is_not_valid_params_is_a_422_naming_the_field(
    event_client: Any, event_settings: Any
) -> None:
    response = event_client.post("/api/v1/events", json={"name": "orders.arrived", "payload": {"n": "many"}})

    assert response.status_code == 422
    assert response.json()["error"] == "invalid"
    assert [f["field"] for f in response.json()["fields"]] == ["payload.n"]
    assert _runs(event_settings) == []  # nothing is written when one listener refuses the payload


def test_a_payload_that_is_not_an_object_or_a_bad_name_is_a_422(event_client: Any) -> None:
    not_object = event_client.post("/api/v1/events", json={"name": "orders.arrived", "payload": [1]})
    bad_name = event_client.post("/api/v1/events", json={"name": "no spaces allowed", "payload": {}})
    bad_id = event_client.post(
        "/api/v1/events", json={"name": "orders.arrived", "payload": {"n": 1}, "id": " "}
    )

    assert not_object.status_code == 422
    assert [f["field"] for f in not_object.json()["fields"]] == ["payload"]
    assert bad_name.status_code == 422
    assert [f["field"] for f in bad_name.json()["fields"]] == ["name"]
    assert bad_id.status_code == 422
    assert [f["field"] for f in bad_id.json()["fields"]] == ["id"]


def test_an_event_no_flow_listens_to_is_a_404(event_client: Any, event_settings: Any) -> None:
    response = event_client.post("/api/v1/events", json={"name": "invoices.paid"})

    assert response.status_code == 404
    assert "invoices.paid" in response.json()["detail"]
    assert _runs(event_settings) == []


def test_an_event_whose_listeners_are_all_paused_is_a_409(event_client: Any, event_settings: Any) -> None:
    late = {"name": "orders.late", "payload": {"n": 1}}
    _pause(event_settings, "audit")

    response = event_client.post("/api/v1/events", json=late)

    assert response.status_code == 409
    assert "paused" in response.json()["detail"]
    assert _runs(event_settings) == []


def test_a_paused_listener_is_skipped_and_named(event_client: Any, event_settings: Any) -> None:
    _pause(event_settings, "audit")

    response = event_client.post("/api/v1/events", json={"name": "orders.arrived", "payload": {"n": 2}})

    assert response.status_code == 201
    assert response.json()["paused"] == ["audit"]
    assert [r.flow_name for r in _runs(event_settings)] == ["orders"]


def _pause(settings: Any, flow_name: str) -> None:
    from weir.control.context import Context
    from weir.control.flows import set_paused

    set_paused(Context.of(settings, via="python"), flow_name, True)
