"""Trigger rules end to end: which tasks run, skip or fail when an upstream fails or is skipped."""

from __future__ import annotations

from collections.abc import Callable

import weir
from weir.graph.triggers import TriggerRule

RULES = [rule.value for rule in TriggerRule]


@weir.task
def ok() -> str:
    return "ok"


@weir.task
def boom() -> None:
    raise RuntimeError("boom")


@weir.task(branch=True)
def choose() -> str:
    return "taken"


@weir.task
def after(tag: str = "") -> str:
    return tag


def with_every_rule(*upstream: object) -> None:
    for rule in RULES:
        node = after.options(trigger=rule, task_id=rule)()
        list(upstream) >> node


@weir.flow
def success_and_failure() -> None:
    with_every_rule(ok(), boom())


@weir.flow
def success_and_skip() -> None:
    pick = choose()
    taken = ok.options(task_id="taken")()
    dropped = ok.options(task_id="dropped")()
    pick >> [taken, dropped]
    with_every_rule(taken, dropped)


@weir.flow
def only_failures() -> None:
    with_every_rule(boom(), boom())


def test_after_one_success_and_one_failure(store_url: str, states: Callable) -> None:
    run = success_and_failure.run(executor="inline")
    got = states(run)
    assert (got["ok"], got["boom"]) == ("success", "failed")
    assert {rule: got[rule] for rule in RULES} == {
        "all_success": "upstream_failed",
        "all_done": "success",
        "all_failed": "skipped",
        "one_success": "success",
        "one_failed": "success",
        "none_failed": "upstream_failed",
        "none_skipped": "success",
        "always": "success",
    }
    assert run.state == "failed"


def test_after_one_success_and_one_skip(store_url: str, states: Callable) -> None:
    run = success_and_skip.run(executor="inline")
    got = states(run)
    assert (got["choose"], got["taken"], got["dropped"]) == ("success", "success", "skipped")
    assert {rule: got[rule] for rule in RULES} == {
        "all_success": "skipped",
        "all_done": "success",
        "all_failed": "skipped",
        "one_success": "success",
        "one_failed": "skipped",
        "none_failed": "success",
        "none_skipped": "skipped",
        "always": "success",
    }
    assert run.state == "success"


def test_after_only_failures(store_url: str, states: Callable) -> None:
    run = only_failures.run(executor="inline")
    got = states(run)
    assert {rule: got[rule] for rule in RULES} == {
        "all_success": "upstream_failed",
        "all_done": "success",
        "all_failed": "success",
        "one_success": "upstream_failed",
        "one_failed": "success",
        "none_failed": "upstream_failed",
        "none_skipped": "success",
        "always": "success",
    }


def test_a_failure_propagates_as_upstream_failed_down_a_chain(store_url: str, states: Callable) -> None:
    @weir.flow
    def chain() -> None:
        after(after(boom()))

    run = chain.run(executor="inline")
    assert states(run) == {"boom": "failed", "after": "upstream_failed", "after__1": "upstream_failed"}
    assert run.state == "failed"
    assert "boom" in (run.reason or "")


def test_an_all_done_cleanup_runs_after_a_failure_and_the_run_still_fails(
    store_url: str, states: Callable
) -> None:
    @weir.flow
    def with_cleanup() -> None:
        boom() >> after.options(trigger="all_done", task_id="cleanup")()

    run = with_cleanup.run(executor="inline")
    assert states(run) == {"boom": "failed", "cleanup": "success"}
    assert run.state == "failed"


@weir.task
def slow() -> str:
    import time

    time.sleep(0.5)
    return "slow"


@weir.task
def join(a: object, b: object) -> str:
    return "joined"


@weir.flow
def early_decision() -> None:
    gate = join.options(task_id="gate")(boom(), slow())  # all_success: fails the moment boom fails
    gate >> after.options(task_id="beyond")()


def test_all_success_is_upstream_failed_the_moment_one_upstream_fails_without_waiting(
    store_url: str, states: Callable
) -> None:
    run = early_decision.run(executor="local")
    assert states(run) == {
        "boom": "failed",
        "slow": "success",
        "gate": "upstream_failed",
        "beyond": "upstream_failed",
    }
    gate, slow_run = run.task_run("gate"), run.task_run("slow")
    assert gate.ended_at is not None and slow_run.ended_at is not None
    assert gate.ended_at < slow_run.ended_at  # decided while slow still ran
