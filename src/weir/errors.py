"""Every error weir raises on purpose descends from :class:`WeirError`.

The tree::

    WeirError
    ├── FlowDefinitionError        a flow or task is defined wrongly (names the file and line)
    │   └── CycleError             the graph has a cycle
    ├── FlowLoadError              a flow file does not import, or FILE.py:FLOW names nothing
    ├── ParamsError                params given to a run do not validate (names each param)
    ├── ContextError               weir.context() outside a running task
    ├── ResultError                a task's result cannot be stored or read back
    ├── TaskTimeoutError           a try ran longer than its task's timeout (also a TimeoutError)
    ├── IllegalTransitionError     a state change the transition table does not allow
    ├── StaleStateError            a compare-and-set found another state than expected
    ├── NotFoundError              a run, task or try that does not exist
    ├── ExecutorError              an unknown executor, or one that cannot start
    └── SettingsError              a setting with a bad value
"""

from __future__ import annotations


class WeirError(Exception):
    """Base of every error weir raises on purpose."""


class FlowDefinitionError(WeirError):
    """A flow or task definition is wrong; the message names the file and line."""


class CycleError(FlowDefinitionError):
    """The dependencies of a flow form a cycle."""


class FlowLoadError(WeirError):
    """A flow file cannot be imported, or the named flow is not in it."""


class ParamsError(WeirError):
    """Params for a run do not validate against the flow's signature."""

    def __init__(self, flow: str, problems: list[tuple[str, str]]) -> None:
        self.flow = flow
        self.problems = problems
        lines = "; ".join(f"{name}: {reason}" for name, reason in problems)
        super().__init__(f"invalid params for flow {flow!r}: {lines}")


class ContextError(WeirError):
    """``weir.context()`` was called where no task is running."""


class ResultError(WeirError):
    """A task result cannot be serialised, stored or loaded."""


class TaskTimeoutError(WeirError, TimeoutError):
    """A try ran longer than its task's ``timeout``."""


class IllegalTransitionError(WeirError):
    """A state change that the transition table does not allow."""


class StaleStateError(WeirError):
    """A compare-and-set on a state found another state than the one expected."""


class NotFoundError(WeirError):
    """A run, task run or try does not exist in the store."""


class ExecutorError(WeirError):
    """An unknown executor name, or an executor that cannot start."""


class SettingsError(WeirError):
    """A setting has a value weir cannot use."""
