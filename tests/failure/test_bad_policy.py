"""Bad failure-handling options are refused when the flow file loads, with the file and line."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from weir.errors import FlowDefinitionError
from weir.sdk.loader import load_flow

TASK_OPTIONS = [
    ("retries=-1", "retries"),
    ("retries=1.5", "retries"),
    ('on_failure="not callable"', "on_failure"),
    ("on_retry=[print, 42]", "on_retry"),
    ("timeout=0", "timeout"),
    ("timeout=-5", "timeout"),
    ('retry_on=["NoSuchError"]', "NoSuchError"),
    ('retry_on=["no_such_module.Flaky"]', "no_such_module.Flaky"),
    ("retry_on=[ValueError, 42]", "retry_on"),
    ("retry_delay=-1", "retry_delay"),
    ("retry_backoff=0.5", "retry_backoff"),
    ("retry_jitter=2", "retry_jitter"),
    ("max_retry_delay=0", "max_retry_delay"),
    ('retry_if="yes"', "retry_if"),
    ("cache_expires=-1", "cache_expires"),
    ("cache_key_fn=3", "cache_key_fn"),
    ("complete=True", "complete"),
]


@pytest.mark.parametrize(("option", "named"), TASK_OPTIONS)
def test_a_bad_task_option_is_refused_at_load_time_naming_the_file_and_line(
    option: str, named: str, flow_file: Callable[..., str]
) -> None:
    path = flow_file(
        f"""
        @weir.task({option})
        def bad():
            return 1


        @weir.flow
        def holder():
            return bad()
        """
    )
    line = _line_of(path, "@weir.task(")
    with pytest.raises(FlowDefinitionError) as info:
        load_flow(f"{path}:holder")
    message = str(info.value)
    assert f"{path}:{line}" in message
    assert named in message


@pytest.mark.parametrize(("option", "named"), [("retries=-1", "retries"), ("timeout=0", "timeout")])
def test_a_bad_per_call_option_is_refused_at_the_line_of_the_call(
    option: str, named: str, flow_file: Callable[..., str]
) -> None:
    path = flow_file(
        f"""
        @weir.task
        def fine():
            return 1


        @weir.flow
        def holder():
            return fine.options({option})()
        """
    )
    line = _line_of(path, "fine.options(")
    with pytest.raises(FlowDefinitionError) as info:
        load_flow(f"{path}:holder")
    assert f"{path}:{line}" in str(info.value)
    assert named in str(info.value)


@pytest.mark.parametrize(
    ("option", "named"), [("timeout=0", "timeout"), ('on_failure="not callable"', "on_failure")]
)
def test_a_bad_flow_option_is_refused_at_load_time(
    option: str, named: str, flow_file: Callable[..., str]
) -> None:
    path = flow_file(
        f"""
        @weir.task
        def fine():
            return 1


        @weir.flow({option})
        def holder():
            return fine()
        """
    )
    line = _line_of(path, "@weir.flow(")
    with pytest.raises(FlowDefinitionError) as info:
        load_flow(f"{path}:holder")
    assert f"{path}:{line}" in str(info.value)
    assert named in str(info.value)


def _line_of(path: str, text: str) -> int:
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if text in line:
                return number
    raise AssertionError(f"{text!r} is not in {path}")
