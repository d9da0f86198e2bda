"""``weir.control.events.send_event``: listening flows, payload checks, one run per event id."""

from __future__ import annotations

import textwrap

import pytest

from weir.control.events import check_payload, parse_payload
from weir.control.events import send_event as send
from weir.errors import EventError, ParamsError


@pytest.fixture
def settings(tmp_path):
    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "listen.py").write_text(
        textwrap.dedent(
            """
            import weir

            @weir.task
            def keep(n: int) -> int:
                return n

            @weir.flow(schedule=weir.on_event("arrived"))
            def first(n: int) -> int:
                return keep(n)

            @weir.flow(schedule=[weir.on_event("arrived"), "@daily"])
            def second(n: int = 0) -> int:
                return keep(n)

            @weir.flow(schedule=weir.on_event("other"))
            def third(n: int) -> int:
                return keep(n)
            """
        )
    )
    from weir.control.context import Context
    from weir.control.flows import sync
    from weir.settings import Settings
    from weir.worker.registrar import shared_registrar

    settings = Settings.from_env(flows_dirs=(folder,))
    sync(Context.of(settings, via="cli"), shared_registrar(settings.project_root, settings.registrar_timeout))
    return settings


def send_event(name, payload, event_id, settings):
    from weir.control.context import Context

    return send(Context.of(settings, via="cli"), name, payload, event_id)


def _runs(settings):
    from weir.store import runs
    from weir.store.store import open_store

    with open_store(settings.database_url).read() as conn:
        return runs.list_runs(conn, limit=100).runs


def test_an_event_makes_one_queued_run_per_listening_flow(settings):
    sent = send_event("arrived", {"n": 3}, "id-1", settings)

    runs = _runs(settings)
    assert sorted(sent.run_ids) == sorted(r.id for r in runs)
    assert sorted(r.flow_name for r in runs) == ["first", "second"]
    assert {(r.state, r.trigger) for r in runs} == {("queued", "event")}
    assert all(r.params["n"] == 3 for r in runs)


def test_the_same_event_id_again_starts_nothing_new(settings):
    first = send_event("arrived", {"n": 1}, "same", settings)
    again = send_event("arrived", {"n": 1}, "same", settings)

    assert again.already_received and again.run_ids == []
    assert sorted(again.existing) == sorted(first.run_ids)
    assert len(_runs(settings)) == 2


def test_a_new_uuid_is_given_when_no_id_is(settings):
    assert (
        send_event("arrived", {"n": 1}, None, settings).event_id
        != send_event("arrived", {"n": 1}, None, settings).event_id
    )


def test_no_listener_is_an_error_and_nothing_is_stored(settings):
    with pytest.raises(EventError, match="no flow listens to event 'nobody'"):
        send_event("nobody", {}, None, settings)
    assert _runs(settings) == []


def test_params_are_checked_for_every_flow_before_anything_is_written(settings):
    with pytest.raises(ParamsError, match=r"'first'.*n:"):
        send_event("arrived", {}, "x", settings)
    assert _runs(settings) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{nope", "invalid payload: not JSON"),
        ("[1]", "got an array"),
        ('"s"', "got a string"),
        ("3", "a number"),
    ],
)
def test_a_payload_must_be_a_json_object(text, message):
    with pytest.raises(EventError, match=message):
        parse_payload(text)


def test_an_empty_payload_is_no_params():
    assert parse_payload(None) == {} and parse_payload("  ") == {}
    assert check_payload({"a": 1}) == {"a": 1}


def test_a_malformed_event_name_is_refused(settings):
    with pytest.raises(EventError, match="invalid event name"):
        send_event("no spaces please", {}, None, settings)
