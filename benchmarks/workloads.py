"""The benchmark workloads as weir flows (the same shapes as ../shared/bench/peers/spec.py).

W1 a chain of 200 no-op tasks; W2 one task -> 500 independent no-op tasks -> one join;
W4 20 tasks sleeping 0.5 s at concurrency 4; W5 2,000 no-op tasks in 20 layers of 100,
each depending on 2 tasks of the layer before. W3 (one task, a whole `weir run` process)
uses ``one_task`` below.
"""

from __future__ import annotations

import time

import weir

W1_N = 200
W2_N = 500
W4_N, W4_SLEEP = 20, 0.5
W5_LAYERS, W5_WIDTH = 20, 100


@weir.task
def noop(*_args: object) -> int:
    return 1


@weir.task
def one(_x: int) -> int:
    return 1


@weir.task
def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@weir.task
def make_list(n: int) -> list[int]:
    return list(range(n))


@weir.task
def join(values: list[int]) -> int:
    return len(values)


@weir.flow
def w1_chain() -> int:
    x = noop()
    for _ in range(W1_N - 1):
        x = noop(x)
    return x


@weir.flow
def w2_fan() -> int:
    start = noop()
    middle = [noop(start) for _ in range(W2_N)]
    return join(middle)


@weir.flow
def w2_fan_mapped() -> int:
    return join(one.map(make_list(W2_N)))


@weir.flow
def w4_sleep() -> None:
    for _ in range(W4_N):
        nap(W4_SLEEP)


@weir.flow
def w5_large() -> None:
    previous = [noop() for _ in range(W5_WIDTH)]
    for _layer in range(1, W5_LAYERS):
        previous = [noop(previous[i], previous[(i + 1) % W5_WIDTH]) for i in range(W5_WIDTH)]


@weir.flow
def one_task() -> int:
    return noop()
