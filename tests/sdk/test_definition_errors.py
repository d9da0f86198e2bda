"""A badly defined flow or task is refused when it is traced, naming the file and the line."""

from __future__ import annotations

from typing import Any

import pytest

import weir
from weir.errors import CycleError, FlowDefinitionError

HERE = __file__


def where(snippet: str) -> str:
    """``file:line`` of the one line of this file that holds ``snippet``."""
    with open(HERE, encoding="utf-8") as source:
        lines = [n for n, text in enumerate(source, start=1) if snippet in text and "where(" not in text]
    assert len(lines) == 1, f"{snippet!r} is on lines {lines}"
    return f"{HERE}:{lines[0]}"


@weir.task
def step(name: str = "") -> str:
    return name


@weir.task
def square(x: int) -> int:
    return x * x


def test_a_cycle_made_with_rshift_is_a_cycle_error_naming_the_line() -> None:
    @weir.flow
    def circular() -> None:
        a = step.options(task_id="a")()
        b = step.options(task_id="b")()
        a >> b
        b >> a  # closes the cycle

    with pytest.raises(CycleError) as info:
        circular.graph  # noqa: B018
    message = str(info.value)
    assert "cycle" in message
    assert "a >> b >> a" in message or "b >> a >> b" in message
    assert message.startswith(HERE + ":")


def test_a_reference_from_another_flow_is_refused() -> None:
    leaked: dict[str, Any] = {}

    @weir.flow
    def first() -> None:
        leaked["ref"] = step()

    @weir.flow
    def second() -> None:
        square(leaked["ref"])  # borrowed reference

    first.graph  # noqa: B018
    with pytest.raises(FlowDefinitionError) as info:
        second.graph  # noqa: B018
    assert where("square(leaked") in str(info.value)
    assert "belongs to flow 'first'" in str(info.value)


def test_a_duplicate_explicit_task_id_is_refused() -> None:
    @weir.flow
    def twins() -> None:
        step.options(task_id="same")()
        square.options(task_id="same")(1)  # second use of the id

    with pytest.raises(FlowDefinitionError) as info:
        twins.graph  # noqa: B018
    assert where('square.options(task_id="same")') in str(info.value)
    assert "duplicate task id 'same'" in str(info.value)


@pytest.mark.parametrize(
    ("misuse", "what"),
    [
        (lambda ref: bool(ref), "truth test"),
        (lambda ref: ref + 1, "arithmetic"),
        (lambda ref: len(ref), "len()"),
        (lambda ref: [x for x in ref], "iteration"),
        (lambda ref: f"{ref}", "string formatting"),
        (lambda ref: ref == "x", "comparison"),
        (lambda ref: ref != 0, "comparison"),
    ],
    ids=["if-ref", "ref-plus-1", "len-ref", "for-x-in-ref", "f-string", "ref-eq", "ref-ne"],
)
def test_using_a_reference_as_a_value_is_refused(misuse: Any, what: str) -> None:
    @weir.flow
    def confused() -> None:
        misuse(step())

    with pytest.raises(FlowDefinitionError) as info:
        confused.graph  # noqa: B018
    assert what in str(info.value)
    assert HERE in str(info.value)


def test_an_if_on_a_reference_names_the_line_of_the_if() -> None:
    @weir.flow
    def branching_by_hand() -> None:
        ref = step()
        if ref:  # a value test on a reference
            square(1)

    with pytest.raises(FlowDefinitionError) as info:
        branching_by_hand.graph  # noqa: B018
    assert where("if ref:  # a value test") in str(info.value)


def test_comparing_a_reference_is_refused_instead_of_silently_false() -> None:
    @weir.flow
    def compared() -> None:
        ref = step()
        if ref == "go":  # compared like a value
            square(1)

    with pytest.raises(FlowDefinitionError) as info:
        compared.graph  # noqa: B018
    assert where('if ref == "go":') in str(info.value)


def test_a_reference_can_still_be_hashed_and_found_by_identity() -> None:
    @weir.flow
    def keyed() -> None:
        a = step()
        b = step()
        assert a in [a] and len({a, b}) == 2
        a >> b

    assert keyed.graph.edges == [("step", "step__1", "order")]


def test_arguments_that_do_not_fit_the_signature_are_refused() -> None:
    @weir.flow
    def wrong_call() -> None:
        square(1, 2)  # one argument too many

    with pytest.raises(FlowDefinitionError) as info:
        wrong_call.graph  # noqa: B018
    assert where("square(1, 2)") in str(info.value)
    assert "'square'" in str(info.value)


def test_an_unknown_keyword_argument_is_refused() -> None:
    @weir.flow
    def wrong_keyword() -> None:
        square(y=1)  # no such parameter

    with pytest.raises(FlowDefinitionError, match="does not take"):
        wrong_keyword.graph  # noqa: B018


def test_a_negative_retries_is_refused_at_decoration() -> None:
    with pytest.raises(FlowDefinitionError) as info:

        @weir.task(retries=-1)  # negative retries
        def flaky() -> None: ...

    assert where("@weir.task(retries=-1)") in str(info.value)
    assert "retries must be a whole number >= 0" in str(info.value)


def test_a_negative_retries_in_options_names_the_call() -> None:
    @weir.flow
    def overridden() -> None:
        step.options(retries=-2)()  # negative override

    with pytest.raises(FlowDefinitionError) as info:
        overridden.graph  # noqa: B018
    assert where("step.options(retries=-2)") in str(info.value)


def test_a_zero_timeout_is_refused() -> None:
    with pytest.raises(FlowDefinitionError) as info:

        @weir.task(timeout=0)  # zero timeout
        def hasty() -> None: ...

    assert where("@weir.task(timeout=0)") in str(info.value)
    assert "timeout must be > 0" in str(info.value)


def test_an_unknown_trigger_rule_is_refused_and_the_rules_are_listed() -> None:
    with pytest.raises(FlowDefinitionError) as info:

        @weir.task(trigger="most_success")  # unknown rule
        def picky() -> None: ...

    assert where('@weir.task(trigger="most_success")') in str(info.value)
    assert "unknown trigger rule 'most_success'" in str(info.value)
    assert "none_skipped" in str(info.value)


def test_an_unknown_task_option_is_refused() -> None:
    with pytest.raises(FlowDefinitionError, match="unknown task option"):
        step.options(retires=1)


def test_star_args_in_a_flow_signature_is_refused() -> None:
    with pytest.raises(FlowDefinitionError) as info:

        @weir.flow  # variadic flow
        def variadic(*days: str) -> None: ...

    assert where("@weir.flow  # variadic flow") in str(info.value)
    assert "*days" in str(info.value)


def test_a_flow_body_that_raises_is_a_definition_error_naming_the_line() -> None:
    @weir.flow
    def broken() -> None:
        raise RuntimeError("no good")  # raising body

    with pytest.raises(FlowDefinitionError) as info:
        broken.graph  # noqa: B018
    assert where('raise RuntimeError("no good")') in str(info.value)
    assert "RuntimeError: no good" in str(info.value)


def test_a_flow_called_directly_says_how_to_run_it() -> None:
    @weir.flow
    def direct() -> None:
        step()

    with pytest.raises(weir.WeirError, match=r"direct.run\(\*\*params\)"):
        direct()
