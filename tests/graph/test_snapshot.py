"""``weir.graph.snapshot``: templates and snapshots as JSON and back, versions that change exactly
when the content does, the formats a weir reads, and params checked against the stored schema."""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import date
from typing import Any

import pytest

import weir
from weir.errors import ParamsError, SnapshotError
from weir.graph.model import MAP_ELEMENT, Opaque, ParamValue, TaskOutput
from weir.graph.snapshot import (
    FORMAT,
    FlowSnapshot,
    decode,
    encode,
    snapshot_from_json,
    snapshot_to_json,
    version_of,
    with_version,
)
from weir.sdk.snapshot import snapshot_of


def through_json(value: Any) -> Any:
    """``value`` encoded, written as strict JSON, read back and decoded."""
    return decode(json.loads(json.dumps(encode(value), allow_nan=False)))


# -- templates ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        None,
        True,
        7,
        "text",
        2.5,
        [1, [2, 3]],
        (1, "a", (2.0,)),
        {"a": 1, "$task": "not a marker"},
        {1: "one", (2, 3): "pair", None: "none", 2.5: "float"},
        {"x": [TaskOutput("load"), (ParamValue("day"), MAP_ELEMENT)], "y": {"z": TaskOutput("a")}},
        [float("inf"), -float("inf")],
        Opaque(text="<conn>", type_name="db.Conn", length=None),
    ],
    ids=repr,
)
def test_a_template_comes_back_from_json_as_it_was(template: Any) -> None:
    assert through_json(template) == template
    assert type(through_json(template)) is type(template)


def test_tuples_stay_tuples_and_lists_stay_lists_inside_each_other() -> None:
    back = through_json({"k": ([1], (2,))})

    assert back == {"k": ([1], (2,))}
    assert type(back["k"]) is tuple and type(back["k"][0]) is list and type(back["k"][1]) is tuple


def test_nan_comes_back_as_nan() -> None:
    assert encode(float("nan")) == {"$float": "nan"}
    assert math.isnan(through_json(float("nan")))


def test_sets_come_back_as_sets_in_a_stable_order() -> None:
    assert encode({"b", "a", "c"}) == {"$set": ["a", "b", "c"], "frozen": False}
    assert through_json({3, 1, 2}) == {1, 2, 3}
    assert through_json(frozenset({(1, 2)})) == frozenset({(1, 2)})


def test_an_object_with_a_length_becomes_opaque_keeping_its_length() -> None:
    class Bag:
        def __len__(self) -> int:
            return 3

        def __repr__(self) -> str:
            return "<bag>"

    back = through_json(Bag())
    assert (back.text, back.length) == ("<bag>", 3)


@dataclasses.dataclass
class Point:
    x: int


class Plain:
    def __init__(self, x: int) -> None:
        self.x = x


def test_equal_objects_get_equal_digests_and_different_ones_different_digests() -> None:
    assert encode(Point(1))["digest"] == encode(Point(1))["digest"] != encode(Point(2))["digest"]
    assert encode(Plain(1))["digest"] == encode(Plain(1))["digest"] != encode(Plain(2))["digest"]


def test_an_opaque_text_has_no_memory_address() -> None:
    text = encode(Plain(1))["$opaque"]
    assert " at 0x" not in text and text.endswith("Plain object>")


def test_a_long_constant_is_known_by_its_whole_content() -> None:
    long_a, long_b = Plain(list(range(300))), Plain([*range(300), 1])  # type: ignore[arg-type]
    assert encode(long_a)["digest"] != encode(long_b)["digest"]


def test_an_object_without_a_length_becomes_opaque_without_one() -> None:
    class Thing:
        def __repr__(self) -> str:
            return "<thing>"

    back = through_json(Thing())

    assert (back.text, back.type_name, back.length) == ("<thing>", f"{__name__}.{Thing.__qualname__}", None)


def test_an_opaque_text_is_short_and_a_repr_that_fails_is_named_by_its_type() -> None:
    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    assert len(encode(Plain(range(1000)))["$opaque"]) <= 200  # type: ignore[arg-type]
    assert len(encode(bytes(1000))["$opaque"]) == 200
    assert encode(Broken())["$opaque"] == "<Broken>"


def test_an_unknown_template_item_is_a_snapshot_error() -> None:
    with pytest.raises(SnapshotError, match=r"unknown template item \['\$what'\]"):
        decode({"$what": 1})


# -- snapshots ----------------------------------------------------------------------------------------


def alert(context: Any) -> None:
    """A flow callback."""


@weir.task
def numbers(n: int) -> list[int]:
    return list(range(n))


@weir.task(retries=2, retry_delay=1.5, retry_backoff=2, pool="db", priority=3, tags=["io"], timeout=10)
def square(x: int, offset: int = 0) -> int:
    return x * x + offset


@weir.task(trigger="all_done", cache=True, cache_expires=60, on_failure=alert)
def total(xs: list[int], options: dict) -> int:
    return sum(xs)


@weir.task
def tidy() -> None:
    return None


@weir.flow(
    schedule="@daily",
    tags=["etl"],
    description="Squares, summed.",
    timeout=60,
    on_failure=alert,
    catchup=True,
)
def rich(day: date, n: int = 3, ratio: float = 0.5, flag: bool = False, limit: int | None = None) -> Any:
    squares = square.map(numbers(n), offset=1)
    result = total(squares, {"day": day, 3: ("three", float("inf")), "keep": {1, 2}})
    result >> tidy()
    return {"total": result, "squares": squares}


def test_a_snapshot_read_back_from_json_keeps_graph_params_schedule_and_policies() -> None:
    snapshot = snapshot_of(rich)
    data = json.loads(json.dumps(snapshot_to_json(snapshot), allow_nan=False))

    back = snapshot_from_json(data)

    for name in ("name", "version", "description", "tags", "code", "params", "timeout", "on_failure"):
        assert getattr(back, name) == getattr(snapshot, name), name
    assert dict(back.params_schema) == dict(snapshot.params_schema)
    assert dict(back.schedule or {}) == dict(snapshot.schedule or {})
    assert back.schedule_spec is not None and back.schedule_spec.catchup is True
    assert list(back.graph.nodes) == list(snapshot.graph.nodes) == ["numbers", "square", "total", "tidy"]
    for task_id, node in snapshot.graph.nodes.items():
        other = back.graph.nodes[task_id]
        for name in ("task_name", "policy", "mapped", "upstream", "location", "code_hash"):
            assert getattr(other, name) == getattr(node, name), (task_id, name)
        templates = (other.args, dict(other.kwargs), other.map_over)
        assert templates == through_json((node.args, dict(node.kwargs), node.map_over)), task_id
    assert back.graph.edges == snapshot.graph.edges
    assert back.graph.output == snapshot.graph.output
    assert back.graph.nodes["total"].args[1]["keep"] == {1, 2}
    assert snapshot_to_json(back) == data  # reading and writing again changes nothing


def test_policies_and_the_graph_json_are_grouped_as_uis_show_them() -> None:
    graph = snapshot_to_json(snapshot_of(rich))["graph"]
    node = {n["task_id"]: n for n in graph["nodes"]}

    square_policy = node["square"]["policy"]
    assert (square_policy["retry"]["retries"], square_policy["retry"]["delay"]) == (2, 1.5)
    assert (square_policy["pool"], square_policy["priority"], square_policy["tags"]) == ("db", 3, ["io"])
    assert node["total"]["policy"]["trigger"] == "all_done"
    assert node["total"]["policy"]["cache"] == {"enabled": True, "key_fn": None, "expires": 60.0}
    assert node["total"]["policy"]["callbacks"]["failure"] == ["alert"]
    assert node["square"]["mapped"] is True and node["total"]["upstream"] == ["square"]
    assert ["total", "tidy", "order"] in graph["edges"]


def test_the_version_is_the_same_for_the_same_content() -> None:
    first, second = snapshot_of(rich), snapshot_of(rich)

    assert first.version == second.version
    assert snapshot_from_json(snapshot_to_json(first)).version == first.version
    assert version_of({**snapshot_to_json(first), "version": "anything"}) == first.version


@pytest.mark.parametrize(
    "change",
    [
        {"description": "other words"},
        {"tags": ("etl", "more")},
        {"timeout": 61.0},
        {"schedule": {"schedules": ["@hourly"]}},
        {"on_failure": ()},
        {"code_hash": "another"},
        {"source_line": 1},
    ],
    ids=lambda change: next(iter(change)),
)
def test_the_version_changes_when_anything_changes(change: dict[str, Any]) -> None:
    snapshot = snapshot_of(rich)

    changed = with_version(dataclasses.replace(snapshot, **change))

    assert changed.version != snapshot.version


def test_the_version_changes_with_a_task_policy_or_a_param_default() -> None:
    @weir.flow(name="rich")
    def retried(day: date, n: int = 3) -> Any:
        return total(square.options(retries=5).map(numbers(n)), {})

    @weir.flow(name="rich")
    def plain(day: date, n: int = 3) -> Any:
        return total(square.map(numbers(n)), {})

    @weir.flow(name="rich")
    def other_default(day: date, n: int = 4) -> Any:
        return total(square.map(numbers(n)), {})

    versions = {snapshot_of(f).version for f in (retried, plain, other_default)}
    assert len(versions) == 3


def test_a_snapshot_of_a_newer_format_is_refused_naming_it() -> None:
    data = {**snapshot_to_json(snapshot_of(rich)), "format": FORMAT + 1}

    with pytest.raises(SnapshotError) as caught:
        snapshot_from_json(data)

    assert f"snapshot format {FORMAT + 1}" in str(caught.value) and "upgrade weir" in str(caught.value)
    assert "'rich'" in str(caught.value)


@pytest.mark.parametrize("data", [{"name": "x", "graph": {}}, {"format": "1"}, ["not", "a", "mapping"]])
def test_data_without_a_format_is_not_a_snapshot(data: Any) -> None:
    with pytest.raises(SnapshotError, match="not a flow snapshot"):
        snapshot_from_json(data)


def test_a_damaged_snapshot_says_what_is_missing() -> None:
    data = snapshot_to_json(snapshot_of(rich))
    del data["graph"]

    with pytest.raises(SnapshotError, match=r"'rich' is damaged: KeyError: 'graph'"):
        snapshot_from_json(data)


# -- params ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def snapshot() -> FlowSnapshot:
    return snapshot_from_json(snapshot_to_json(snapshot_of(rich)))


def problems(snapshot: FlowSnapshot, params: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ParamsError) as caught:
        snapshot.validate_params(params)
    assert caught.value.flow == "rich"
    return dict(caught.value.problems)


def test_validate_params_fills_in_defaults_in_signature_order(snapshot: FlowSnapshot) -> None:
    values = snapshot.validate_params({"flag": True, "day": "2024-01-02"})

    assert values == {"day": "2024-01-02", "n": 3, "ratio": 0.5, "flag": True, "limit": None}
    assert list(values) == ["day", "n", "ratio", "flag", "limit"]


def test_validate_params_reads_text_as_pydantics_lax_mode_does(snapshot: FlowSnapshot) -> None:
    values = snapshot.validate_params(
        {"day": "2024-01-02", "n": "5", "ratio": " 2.5 ", "flag": "true", "limit": "+7"}
    )
    assert (values["n"], values["ratio"], values["flag"], values["limit"]) == (5, 2.5, True, 7)
    assert snapshot.validate_params({"day": "2024-01-02", "flag": "off"})["flag"] is False
    assert snapshot.validate_params({"day": "2024-01-02", "flag": "0"})["flag"] is False


def test_an_unknown_param_is_named(snapshot: FlowSnapshot) -> None:
    assert problems(snapshot, {"day": "2024-01-02", "colour": "red"}) == {
        "colour": "not a param of this flow"
    }


def test_a_missing_param_is_named(snapshot: FlowSnapshot) -> None:
    assert problems(snapshot, {"n": 2}) == {"day": "Field required"}


@pytest.mark.parametrize(
    ("param", "value"),
    [("n", "five"), ("n", 2.5), ("ratio", "nan"), ("flag", "maybe"), ("day", "2024-13-45"), ("limit", [])],
)
def test_a_value_of_the_wrong_type_is_named(snapshot: FlowSnapshot, param: str, value: Any) -> None:
    found = problems(snapshot, {"day": "2024-01-02", param: value})

    assert list(found) == [param]


def test_several_problems_are_named_at_once_in_one_error(snapshot: FlowSnapshot) -> None:
    with pytest.raises(ParamsError) as caught:
        snapshot.validate_params({"n": "x", "flag": "maybe", "zzz": 1})

    assert [name for name, _ in caught.value.problems] == ["day", "flag", "n", "zzz"]
    message = str(caught.value)
    assert message.startswith("invalid params for flow 'rich': day: Field required; flag: ")
    assert [f for f, _ in caught.value.fields] == ["params.day", "params.flag", "params.n", "params.zzz"]
