"""Skip what is done: ``cache=`` reuses a stored result for the same code and inputs (the task
run is ``cached`` and the task not called); ``complete=`` skips a task whose outputs exist."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from weir.sdk.loader import load_flow

CACHED = """
@weir.task(cache=True)
def double(x):
    mark(f"double {x}")
    return x * 2


@weir.task(cache=True, cache_expires=0.5)
def fleeting(x):
    mark(f"fleeting {x}")
    return x + 1


@weir.task(cache=True, cache_key_fn=lambda x: x % 10)
def last_digit(x):
    mark(f"last_digit {x}")
    return x * 100


@weir.task
def plain(value):
    mark("plain")
    return value


@weir.flow
def cached(x: int = 2):
    return plain(double(x))


@weir.flow
def expiring(x: int = 2):
    return fleeting(x)


@weir.flow
def keyed(x: int = 2):
    return last_digit(x)
"""


def test_a_rerun_with_the_same_inputs_reuses_the_cached_result_without_calling_the_task(
    store_url: str, flow_file: Callable[..., str], side_effects: Callable[[], Counter[str]], states: Callable
) -> None:
    flow = load_flow(flow_file(CACHED) + ":cached")
    first = flow.run(executor="local", x=2)
    second = flow.run(executor="local", x=2)

    assert first.id != second.id
    assert states(first) == {"double": "success", "plain": "success"}
    assert states(second) == {"double": "cached", "plain": "success"}
    assert second.result() == first.result() == 4
    assert second.task_result("plain") == 4
    assert side_effects() == Counter({"double 2": 1, "plain": 2})
    assert second.tries("double") == []  # no try: the task was not called

    third = flow.run(executor="local", x=3)
    assert states(third) == {"double": "success", "plain": "success"}
    assert third.result() == 6
    assert side_effects()["double 3"] == 1


def test_a_cached_result_past_cache_expires_is_computed_again(
    store_url: str, flow_file: Callable[..., str], side_effects: Callable[[], Counter[str]], states: Callable
) -> None:
    flow = load_flow(flow_file(CACHED) + ":expiring")
    flow.run(executor="local", x=2)
    soon = flow.run(executor="local", x=2)
    assert states(soon) == {"fleeting": "cached"}
    time.sleep(0.7)
    later = flow.run(executor="local", x=2)
    assert states(later) == {"fleeting": "success"} and later.result() == 3
    assert side_effects() == Counter({"fleeting 2": 2})


def test_cache_key_fn_decides_which_inputs_share_a_result(
    store_url: str, flow_file: Callable[..., str], side_effects: Callable[[], Counter[str]], states: Callable
) -> None:
    flow = load_flow(flow_file(CACHED) + ":keyed")
    assert flow.run(executor="local", x=3).result() == 300
    shared = flow.run(executor="local", x=13)  # same last digit: same key, the stored result
    assert states(shared) == {"last_digit": "cached"}
    assert shared.result() == 300
    other = flow.run(executor="local", x=4)
    assert states(other) == {"last_digit": "success"} and other.result() == 400
    assert side_effects() == Counter({"last_digit 3": 1, "last_digit 4": 1})


COMPLETE = """
OUTPUT = os.path.join(os.path.dirname(SIDE), "output.txt")


@weir.task(complete=lambda: True)
def always_done():
    mark("always_done")
    return "computed"


@weir.task(complete=lambda name: os.path.exists(OUTPUT))
def write_output(name):
    mark("write_output")
    with open(OUTPUT, "w") as f:
        f.write(name)
    return name


@weir.task
def downstream(value):
    mark("downstream")
    return value


@weir.flow
def luigi_style():
    always_done()
    return downstream(write_output("out"))
"""


def test_complete_true_marks_the_task_run_cached_and_does_not_call_it(
    store_url: str, flow_file: Callable[..., str], side_effects: Callable[[], Counter[str]], states: Callable
) -> None:
    flow = load_flow(flow_file(COMPLETE) + ":luigi_style")
    first = flow.run(executor="local")
    assert states(first) == {"always_done": "cached", "write_output": "success", "downstream": "success"}
    assert first.result() == "out"

    second = flow.run(executor="local")
    assert states(second) == {"always_done": "cached", "write_output": "cached", "downstream": "success"}
    assert side_effects() == Counter({"write_output": 1, "downstream": 2})


WITHIN_RUN = """
import dataclasses


@dataclasses.dataclass
class Point:
    x: int


class Box:  # no __repr__: its repr names a memory address
    def __init__(self, x):
        self.x = x


@weir.task(cache=True)
def foo(x):
    mark(f"foo {x!r}")
    return 1


@weir.task(cache=True)
def size(box):
    mark(f"size {box.x}")
    return box.x


@weir.flow
def in_a_row():
    foo(1) >> foo(1)


@weir.flow
def side_by_side():
    foo(2)
    foo(2)
    foo(3)


@weir.flow
def with_objects():
    foo(Point(1))
    size(Box(5))
"""


def test_equal_calls_in_one_run_compute_once_and_the_others_are_served_from_it(
    store_url: str, flow_file: Callable[..., str], side_effects: Callable[[], Counter[str]], states: Callable
) -> None:
    path = flow_file(WITHIN_RUN)
    for attempt in range(3):  # every repetition: on local, a hit must not depend on timing
        row = load_flow(path + ":in_a_row").run(executor="local")
        assert states(row) == {"foo": "success" if attempt == 0 else "cached", "foo__1": "cached"}
        side = load_flow(path + ":side_by_side").run(executor="local")
        assert list(states(side).values()).count("cached") == (1 if attempt == 0 else 3)
    assert side_effects() == Counter({"foo 1": 1, "foo 2": 1, "foo 3": 1})


def test_equal_objects_in_a_new_load_of_the_flow_give_equal_keys(
    store_url: str,
    flow_file: Callable[..., str],
    side_effects: Callable[[], Counter[str]],
    states: Callable,
    run_process: Callable[..., Any],
) -> None:
    path = flow_file(WITHIN_RUN)
    first = load_flow(path + ":with_objects").run(executor="local")
    assert states(first) == {"foo": "success", "size": "success"}
    again = run_process(path + ":with_objects")  # another process: other memory addresses
    again.run_id()
    assert again.wait() == 0, again.stderr()
    assert side_effects() == Counter({"foo Point(x=1)": 1, "size 5": 1})
