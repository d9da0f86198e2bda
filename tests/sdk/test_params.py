"""Flow params are validated from their annotations before anything is written."""

from __future__ import annotations

import pytest

import weir
from weir.store import runs
from weir.store.records import RunRecord
from weir.store.store import open_store


@weir.task
def echo(value: object) -> object:
    return value


@weir.flow
def typed(count: int, label: str = "none", ratio: float = 0.5) -> object:
    return echo({"count": count, "label": label, "ratio": ratio})


def runs_recorded(store_url: str) -> list[RunRecord]:
    with open_store(store_url).read() as conn:
        return runs.list_runs(conn).runs


def test_params_are_coerced_and_defaults_filled(store_url: str) -> None:
    run = typed.run(executor="inline", count="5")
    assert run.state == "success"
    assert run.result() == {"count": 5, "label": "none", "ratio": 0.5}
    assert run.params == {"count": 5, "label": "none", "ratio": 0.5}


@pytest.mark.parametrize(
    ("params", "named", "reason"),
    [
        ({"count": "five"}, "count", "integer"),
        ({}, "count", "required"),
        ({"count": 1, "colour": "red"}, "colour", "not a param of this flow"),
        ({"count": 1, "ratio": "lots"}, "ratio", "number"),
    ],
    ids=["invalid", "missing", "unknown", "wrong-type"],
)
def test_bad_params_are_refused_naming_the_param_and_no_run_is_written(
    store_url: str, params: dict[str, object], named: str, reason: str
) -> None:
    with pytest.raises(weir.ParamsError) as info:
        typed.run(executor="inline", **params)
    assert f"{named}:" in str(info.value)
    assert reason in str(info.value)
    assert named in [name for name, _ in info.value.problems]
    assert runs_recorded(store_url) == []


def test_a_param_can_be_passed_straight_to_a_task(store_url: str) -> None:
    @weir.flow
    def passthrough(day: str = "2024-01-01") -> object:
        return echo(day)

    assert passthrough.run(executor="inline", day="2024-02-29").result() == "2024-02-29"
