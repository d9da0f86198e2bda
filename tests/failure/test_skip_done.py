"""Skip what is done: ``cache=`` reuses a stored result for the same code and inputs (the task
run is ``cached`` and the task not called); ``complete=`` skips a task whose outputs exist."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

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
