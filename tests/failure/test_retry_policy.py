"""Retries on the local executor: backoff and its cap, retry_on and retry_if, one log per try,
and a retry that is waiting holds no worker slot."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable

from weir.graph.policy import RetryPolicy
from weir.sdk.loader import load_flow

BACKOFF = """
@weir.task(retries=3, retry_delay=0.1, retry_backoff=2.0, retry_jitter=0)
def backoff():
    mark("backoff")
    raise ConnectionError("always down")


@weir.task(retries=2, retry_delay=0.2, retry_backoff=20.0, max_retry_delay=0.3)
def capped():
    mark("capped")
    raise ConnectionError("always down")


@weir.flow
def backing_off():
    return [backoff(), capped()]
"""


def _gaps(tries: list) -> list[float]:
    """Seconds from the end of each try to the start of the next."""
    return [(b.started_at - a.ended_at).total_seconds() for a, b in itertools.pairwise(tries)]


def test_retries_wait_longer_each_try_and_never_longer_than_the_cap(
    store_url: str, flow_file: Callable[..., str], side_effects: Callable[[], Counter[str]]
) -> None:
    flow = load_flow(flow_file(BACKOFF) + ":backing_off")
    run = flow.run(executor="local")

    assert run.state == "failed"
    assert side_effects() == Counter({"backoff": 4, "capped": 3})
    policy = flow.graph.nodes["backoff"].policy
    expected = [policy.retry.wait(n, 0.0) for n in (1, 2, 3)]
    assert expected == [0.1, 0.2, 0.4]
    tries = run.tries("backoff")
    assert [t.state for t in tries] == ["up_for_retry"] * 3 + ["failed"]
    for gap, wait in zip(_gaps(tries), expected, strict=True):
        assert gap >= wait

    capped = run.tries("capped")
    assert [t.state for t in capped] == ["up_for_retry", "up_for_retry", "failed"]
    first, second = _gaps(capped)
    assert first >= 0.2
    # Uncapped, the second wait would be 0.2 * 20 = 4 s.
    assert 0.3 <= second < 2.5


def test_retry_wait_is_capped_before_jitter_spreads_it() -> None:
    policy = RetryPolicy(delay=1.0, backoff=2.0, max_delay=3.0, jitter=0.5)
    assert policy.wait(5, 0.5) == 3.0
    assert 1.5 <= policy.wait(5, 0.0) <= policy.wait(5, 0.999) <= 4.5


RULES = """
@weir.task(retries=3, retry_on=[ConnectionError])
def wrong_kind():
    mark("wrong_kind")
    raise ValueError("a bug, not a blip")


@weir.task(retries=3, retry_on=["ConnectionError"])
def right_kind():
    mark("right_kind")
    if count("right_kind") < 3:
        raise ConnectionResetError("a blip")
    return "ok"


@weir.task(retries=5, retry_if=lambda exc: "transient" in str(exc))
def judged():
    mark("judged")
    if count("judged") < 3:
        raise RuntimeError("transient hiccup")
    raise RuntimeError("permanent damage")


@weir.flow
def ruled():
    return [wrong_kind(), right_kind(), judged()]
"""


def test_retry_on_retries_only_the_named_exceptions_and_retry_if_decides_per_error(
    store_url: str, flow_file: Callable[..., str], side_effects: Callable[[], Counter[str]], states: Callable
) -> None:
    run = load_flow(flow_file(RULES) + ":ruled").run(executor="local")

    assert states(run) == {"wrong_kind": "failed", "right_kind": "success", "judged": "failed"}
    assert side_effects() == Counter({"wrong_kind": 1, "right_kind": 3, "judged": 3})

    (only,) = run.tries("wrong_kind")
    assert only.state == "failed" and "ValueError" in (only.error or "")
    assert "not retried: ValueError is not one of retry_on" in run.log("wrong_kind", try_number=only.number)

    assert [t.state for t in run.tries("right_kind")] == ["up_for_retry", "up_for_retry", "success"]

    judged = run.tries("judged")
    assert [t.state for t in judged] == ["up_for_retry", "up_for_retry", "failed"]
    assert "permanent damage" in (judged[-1].error or "")
    assert "retry_if returned False" in run.log("judged", try_number=judged[-1].number)


LOGS = """
@weir.task(retries=2)
def noisy():
    number = weir.context().try_number
    print(f"this is try {number}")
    mark("noisy")
    if number < 3:
        raise ConnectionError(f"failure of try {number}")
    return number


@weir.flow
def logging_flow():
    return noisy()
"""


def test_each_try_in_a_worker_is_its_own_record_with_its_own_log(
    store_url: str, flow_file: Callable[..., str]
) -> None:
    run = load_flow(flow_file(LOGS) + ":logging_flow").run(executor="local")

    assert run.state == "success" and run.result() == 3
    tries = run.tries("noisy")
    assert [t.number for t in tries] == [1, 2, 3]
    assert len({t.log_path for t in tries}) == 3
    for t in tries:
        text = run.log("noisy", try_number=t.number)
        assert f"this is try {t.number}" in text
        others = {1, 2, 3} - {t.number}
        assert not any(f"this is try {n}" in text for n in others)
        assert (f"failure of try {t.number}" in text) == (t.number < 3)


SLOT = """
@weir.task(retries=1, retry_delay=1.0, priority=10)
def first():
    mark("first")
    if count("first") == 1:
        raise ConnectionError("first try fails")
    return "first"


@weir.task
def second():
    mark("second")
    return "second"


@weir.flow
def sharing():
    return [first(), second()]
"""


def test_a_retry_that_is_waiting_leaves_its_worker_to_other_tasks(
    store_url: str, one_worker: None, flow_file: Callable[..., str], side_effects: Callable[[], Counter[str]]
) -> None:
    run = load_flow(flow_file(SLOT) + ":sharing").run(executor="local")

    assert run.state == "success"
    assert run.result() == ["first", "second"]
    first_try, retry = run.tries("first")
    (other,) = run.tries("second")
    # ``first`` has the higher priority, so it took the only worker first; ``second`` ran in
    # the second that ``first`` spent waiting for its retry.
    assert first_try.ended_at is not None and other.started_at is not None
    assert first_try.ended_at <= other.started_at < retry.started_at
    assert other.ended_at is not None and other.ended_at <= retry.started_at
    assert side_effects() == Counter({"first": 2, "second": 1})
