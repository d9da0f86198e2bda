"""``weir.graph.policy``: a task's options validated in one place, grouped into frozen policies that
go to JSON and back; callables kept as named hooks that only loaded code can call."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

import weir
from weir.errors import FlowDefinitionError, TaskTimeoutError, WeirError
from weir.graph.policy import Hook, RetryPolicy, TaskPolicy, task_policy
from weir.graph.triggers import TriggerRule


def on_done(context: Any) -> None:
    """A callback."""


def only_flaky(exc: BaseException) -> bool:
    return "flaky" in str(exc)


def key_of(*args: Any) -> str:
    return "same"


def already_done(*args: Any) -> bool:
    return False


class Notifier:
    """A callable object: it has no ``__qualname__`` of its own."""

    def __call__(self, context: Any) -> None:
        pass

    def __repr__(self) -> str:
        return "Notifier(ops)"


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("retries", -1, "retries must be a whole number >= 0, not -1"),
        ("retries", True, "retries must be a whole number >= 0, not True"),
        ("retries", 1.5, "retries must be a whole number"),
        ("retry_delay", -1, "retry_delay must be >= 0 seconds"),
        ("retry_delay", "1m", "retry_delay must be seconds (a number) or a timedelta"),
        ("retry_backoff", 0.5, "retry_backoff must be a number >= 1"),
        ("retry_jitter", 2, "retry_jitter must be a fraction between 0 and 1"),
        ("max_retry_delay", 0, "max_retry_delay must be > 0 seconds"),
        ("retry_on", "NoSuchError", "retry_on names 'NoSuchError', which is not an exception class"),
        ("retry_on", "os.nothing_here", "retry_on names 'os.nothing_here'"),
        ("retry_on", [KeyError, 5], "retry_on must hold exception classes or their names, not 5"),
        ("retry_on", "json.dumps", "retry_on must hold exception classes"),
        ("retry_if", 3, "retry_if must be a callable, not 3"),
        ("timeout", 0, "timeout must be > 0 seconds"),
        ("timeout", timedelta(seconds=-1), "timeout must be > 0 seconds"),
        ("trigger", "sometimes", "unknown trigger rule 'sometimes': choose one of all_success, all_done"),
        ("pool", "has space", "pool must be a name of letters, digits"),
        ("priority", 1.5, "priority must be a whole number, not 1.5"),
        ("tags", "etl", "tags must be a list of non-empty strings, not 'etl'"),
        ("tags", ["ok", " "], "tags must be a list of non-empty strings"),
        ("on_success", 3, "on_success must be a callable or a list of callables, not 3"),
        ("on_retry", [on_done, "x"], "on_retry must be a callable or a list of callables, not 'x'"),
        ("cache_key_fn", "key", "cache_key_fn must be a callable"),
        ("cache_expires", -5, "cache_expires must be > 0 seconds"),
        ("complete", True, "complete must be a callable, not True"),
    ],
)
def test_task_policy_refuses_a_bad_option_naming_it(option: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        task_policy(**{option: value})


def test_an_unknown_option_is_refused_naming_each() -> None:
    with pytest.raises(ValueError, match="unknown task option\\(s\\): colour, size"):
        task_policy(colour="red", size=3)


def test_task_and_options_report_a_bad_option_with_the_task_and_the_place() -> None:
    with pytest.raises(FlowDefinitionError, match=r"test_policy\.py:\d+: task 'shaky': retries must be"):

        @weir.task(retries=-2)
        def shaky() -> None:
            pass

    @weir.task
    def steady() -> None:
        pass

    with pytest.raises(FlowDefinitionError, match=r"task 'steady': unknown trigger rule 'never'"):
        steady.options(trigger="never")


def test_options_apply_on_top_of_a_base_and_keep_the_rest() -> None:
    base = task_policy(retries=3, pool="db", tags=["io"], timeout=timedelta(minutes=1))

    changed = task_policy(base, retries=0, priority=5)

    assert (changed.retry.retries, changed.priority, changed.pool, changed.tags) == (0, 5, "db", ("io",))
    assert changed.timeout == 60.0 and base.retry.retries == 3
    assert task_policy() == TaskPolicy()


def test_durations_take_seconds_or_timedeltas() -> None:
    policy = task_policy(
        retry_delay=timedelta(seconds=2),
        max_retry_delay=30,
        cache_expires=timedelta(hours=1),
        timeout=1.5,
    )

    assert (policy.retry.delay, policy.retry.max_delay) == (2.0, 30.0)
    assert (policy.cache.expires, policy.timeout) == (3600.0, 1.5)


def test_retry_waits_grow_by_the_backoff_up_to_the_cap_spread_by_the_jitter() -> None:
    retry = RetryPolicy(retries=5, delay=2, backoff=3, max_delay=10)
    assert [retry.wait(n, 0.5) for n in (1, 2, 3)] == [2.0, 6.0, 10.0]

    spread = RetryPolicy(retries=1, delay=10, jitter=0.5)
    assert (spread.wait(1, 0.0), spread.wait(1, 0.5), spread.wait(1, 0.999999)) == pytest.approx((5, 10, 15))


# -- retry_on ---------------------------------------------------------------------------------------


def test_retry_on_takes_names_and_classes_and_stores_their_full_names() -> None:
    policy = task_policy(retry_on=["ConnectionError", "json.JSONDecodeError", KeyError])

    assert policy.retry.on == (
        "builtins.ConnectionError",
        "json.decoder.JSONDecodeError",
        "builtins.KeyError",
    )
    assert policy.retry.on_types == (ConnectionError, json.JSONDecodeError, KeyError)
    assert task_policy(retry_on=ValueError).retry.on == ("builtins.ValueError",)


@pytest.mark.parametrize(
    ("retry_on", "on_timeout"),
    [
        ((), True),  # every error is retried, a timeout too
        (ConnectionError, False),
        (TimeoutError, True),  # TaskTimeoutError is a TimeoutError
        (OSError, True),
        ("weir.errors.TaskTimeoutError", True),
        ([KeyError, ValueError], False),
    ],
)
def test_on_timeout_says_whether_retry_on_allows_a_task_timeout(retry_on: Any, on_timeout: bool) -> None:
    assert task_policy(retry_on=retry_on).retry.on_timeout is on_timeout
    assert issubclass(TaskTimeoutError, TimeoutError)


# -- the cache ----------------------------------------------------------------------------------------


def test_a_cache_key_function_or_an_expiry_turns_the_cache_on() -> None:
    assert task_policy().cache.enabled is False
    assert task_policy(cache=True).cache.enabled is True

    keyed = task_policy(cache_key_fn=key_of).cache
    assert (keyed.enabled, keyed.key_fn) == (True, Hook("key_of"))
    assert task_policy(cache_expires=10).cache.enabled is True
    assert task_policy(cache_key_fn=None).cache.enabled is False


def test_a_cache_key_function_with_the_cache_turned_off_is_refused() -> None:
    with pytest.raises(ValueError, match="cache_key_fn and cache_expires need the cache: drop cache=False"):
        task_policy(cache=False, cache_key_fn=key_of)


# -- hooks and JSON -----------------------------------------------------------------------------------


def full_policy() -> TaskPolicy:
    return task_policy(
        retries=2,
        retry_delay=1,
        retry_backoff=2,
        retry_jitter=0.1,
        max_retry_delay=60,
        retry_on=["ConnectionError"],
        retry_if=only_flaky,
        timeout=30,
        trigger="one_success",
        pool="db",
        priority=-1,
        tags=["io", "slow"],
        branch=True,
        on_success=on_done,
        on_failure=[on_done, Notifier()],
        on_retry=on_done,
        cache_key_fn=key_of,
        cache_expires=600,
        complete=already_done,
    )


def test_a_policy_comes_back_from_json_equal_with_hooks_by_name() -> None:
    policy = full_policy()

    back = TaskPolicy.from_dict(json.loads(json.dumps(policy.to_dict())))

    assert back == policy
    assert back.trigger is TriggerRule.ONE_SUCCESS and back.branch is True
    assert back.retry.on == ("builtins.ConnectionError",) and back.retry.on_types == ()
    assert back.retry.condition == Hook("only_flaky")
    assert back.callbacks.on_failure == (Hook("on_done"), Hook("Notifier(ops)"))
    assert (back.cache.key_fn, back.complete) == (Hook("key_of"), Hook("already_done"))
    assert back.to_dict() == policy.to_dict()


def test_hooks_keep_their_functions_where_the_code_is_loaded() -> None:
    policy = full_policy()

    assert policy.retry.condition is not None and policy.retry.condition(RuntimeError("flaky disk")) is True
    assert policy.cache.key_fn is not None and policy.cache.key_fn(1, 2) == "same"


def test_a_hook_read_back_from_json_cannot_be_called() -> None:
    back = TaskPolicy.from_dict(full_policy().to_dict())

    for hook in (back.retry.condition, back.cache.key_fn, back.complete, *back.callbacks.on_success):
        assert hook is not None and hook.fn is None
        with pytest.raises(WeirError, match=f"^{hook.name} was read from a stored snapshot: only a worker"):
            hook(None)


def test_a_policy_read_from_partial_data_takes_the_defaults() -> None:
    assert TaskPolicy.from_dict({}) == TaskPolicy()
    assert TaskPolicy.from_dict({"retry": {"retries": 4}, "pool": "db"}) == task_policy(retries=4, pool="db")
