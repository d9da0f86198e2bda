"""Retries: a failed try is tried again while tries remain, each try with its own record and log."""

from __future__ import annotations

from collections.abc import Callable

import weir

attempts: dict[str, int] = {}


@weir.task(retries=2)
def flaky(key: str, failures: int) -> str:
    attempts[key] = attempts.get(key, 0) + 1
    print(f"try {weir.context().try_number} of {key}")
    if attempts[key] <= failures:
        raise ConnectionError(f"attempt {attempts[key]} failed")
    return f"ok after {attempts[key]}"


@weir.task
def after(value: str) -> str:
    return value


@weir.flow
def unreliable(key: str, failures: int) -> object:
    return after(flaky(key, failures))


def test_a_task_failing_twice_with_two_retries_ends_success_after_three_tries(
    store_url: str, states: Callable
) -> None:
    run = unreliable.run(executor="inline", key=f"{store_url}-twice", failures=2)
    assert run.state == "success"
    assert run.result() == "ok after 3"
    tries = run.tries("flaky")
    assert [(t.number, t.state) for t in tries] == [(1, "up_for_retry"), (2, "up_for_retry"), (3, "success")]
    assert "attempt 1 failed" in (tries[0].error or "")
    assert run.task_run("flaky").try_number == 3
    assert states(run) == {"flaky": "success", "after": "success"}


def test_each_try_has_its_own_log_file(store_url: str) -> None:
    run = unreliable.run(executor="inline", key=f"{store_url}-logs", failures=2)
    paths = [t.log_path for t in run.tries("flaky")]
    assert len(set(paths)) == 3
    for number, path in enumerate(paths, start=1):
        assert path is not None
        text = run.log("flaky", try_number=number)
        assert f"try {number} of " in text
        assert (f"attempt {number} failed" in text) == (number < 3)


def test_the_run_fails_when_the_retries_are_used_up(store_url: str, states: Callable) -> None:
    run = unreliable.run(executor="inline", key=f"{store_url}-always", failures=10)
    assert run.state == "failed"
    assert [t.state for t in run.tries("flaky")] == ["up_for_retry", "up_for_retry", "failed"]
    assert states(run) == {"flaky": "failed", "after": "upstream_failed"}


def test_options_can_turn_retries_off_for_one_call(store_url: str) -> None:
    @weir.flow
    def no_second_chance(key: str) -> object:
        return flaky.options(retries=0)(key, 1)

    run = no_second_chance.run(executor="inline", key=f"{store_url}-once")
    assert run.state == "failed"
    assert len(run.tries("flaky")) == 1
