"""Every error weir raises on purpose descends from :class:`WeirError`, and every one lives here.

Each error class carries the HTTP status the API answers it with (``http_status``); the API
maps errors to responses in one place (``weir/server/errors.py``) by reading it. The tree::

    WeirError                         500  (an error weir raises on purpose; the base)
    ├── FlowDefinitionError           422  a flow or task is defined wrongly (names the file and line)
    │   ├── CycleError                422  the graph has a cycle
    │   └── ScheduleError             422  a schedule setting is wrong (names the field)
    ├── FlowLoadError                 422  a flow file does not import, or FILE.py:FLOW names nothing
    ├── SnapshotError                 409  a stored flow snapshot this weir cannot read (names the format)
    ├── ParamsError                   422  params given to a run do not validate (names each param)
    ├── ContextError                  500  weir.context() outside a running task
    ├── ResultError                   500  a task's result cannot be stored or read back
    ├── BranchError                   500  a branch task returned ids that are not its downstream tasks
    ├── TaskTimeoutError              500  a try ran longer than its task's timeout (also a TimeoutError)
    ├── IllegalTransitionError        409  a state change the transition table does not allow
    ├── StaleStateError               409  a compare-and-set found another state than expected
    │   └── LeaseLostError            409  a write by an owner whose lease was taken over (fencing)
    ├── NotFoundError                 404  a run, flow, task, try or pool that does not exist
    ├── ConflictError                 409  the request conflicts with what is stored
    │   ├── RunStateError             409  the run's state does not allow the action
    │   ├── RunClaimedError           409  another live process drives the run
    │   ├── DuplicateRunError         409  a run with the same key exists already
    │   ├── PausedError               409  the flow is paused
    │   └── PausedListenersError      409  every flow listening to an event is paused
    ├── RunFailedError                409  run.result() of a run that did not succeed
    ├── EventError                    422  a bad event name, id or payload (names the field)
    │   └── NoListenerError           404  no flow listens to the event
    ├── BackfillError                 422  a backfill that cannot be planned
    ├── PoolError                     422  a bad pool name or slot count, or a task naming no pool
    ├── NotifierError                 422  a notifier configured wrongly (also a ValueError)
    ├── DeliveryError                 502  a notifier could not deliver its message
    ├── ExecutorError                 500  an unknown executor, or one that cannot start
    ├── StoreUnavailableError         503  the store does not answer
    └── SettingsError                 500  a setting with a bad value
"""

from __future__ import annotations

from collections.abc import Iterable


class WeirError(Exception):
    """Base of every error weir raises on purpose.

    Attributes:
        http_status: the status the API answers this error with.
        fields: ``(field, reason)`` pairs naming the parts of a request at fault (may be empty).
    """

    http_status: int = 500

    def __init__(self, message: str = "", *, fields: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.fields: list[tuple[str, str]] = list(fields)


class FlowDefinitionError(WeirError):
    """A flow or task definition is wrong; the message names the file and line."""

    http_status = 422


class CycleError(FlowDefinitionError):
    """The dependencies of a flow form a cycle."""


class ScheduleError(FlowDefinitionError):
    """A schedule setting is wrong; ``field`` names it (``schedule``, ``tz``, ``start``, ...).

    Args:
        field: the argument of ``@weir.flow`` (or of the schedule helper) that is wrong.
        reason: what is wrong with it, in words a user can act on.
    """

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"invalid {field}: {reason}", fields=[(field, reason)])


class FlowLoadError(WeirError):
    """A flow file cannot be imported, or the named flow is not in it."""

    http_status = 422


class SnapshotError(WeirError):
    """A stored flow snapshot cannot be read: written by a newer weir, or by one too old to have one."""

    http_status = 409


class ParamsError(WeirError):
    """Params for a run do not validate against the flow's params schema."""

    http_status = 422

    def __init__(self, flow: str, problems: list[tuple[str, str]]) -> None:
        self.flow = flow
        self.problems = problems
        lines = "; ".join(f"{name}: {reason}" for name, reason in problems)
        super().__init__(
            f"invalid params for flow {flow!r}: {lines}",
            fields=[(f"params.{name}", reason) for name, reason in problems],
        )


class ContextError(WeirError):
    """``weir.context()`` was called where no task is running."""


class ResultError(WeirError):
    """A task result cannot be serialised, stored or loaded."""


class BranchError(WeirError):
    """A branch task returned something other than ids of its direct downstream tasks."""


class TaskTimeoutError(WeirError, TimeoutError):
    """A try ran longer than its task's ``timeout``."""


class IllegalTransitionError(WeirError):
    """A state change that the transition table does not allow."""

    http_status = 409


class StaleStateError(WeirError):
    """A compare-and-set on a state found another state than the one expected.

    Attributes:
        run_ids: the runs whose rows were not as expected, when known.
    """

    http_status = 409

    def __init__(self, message: str = "", *, run_ids: Iterable[int] = ()) -> None:
        super().__init__(message)
        self.run_ids = tuple(run_ids)


class LeaseLostError(StaleStateError):
    """A write for a run whose lease another owner has taken over: its fencing token is old."""


class NotFoundError(WeirError):
    """A run, flow, task run, try or pool does not exist in the store."""

    http_status = 404


class ConflictError(WeirError):
    """What was asked conflicts with what is stored."""

    http_status = 409


class RunStateError(ConflictError):
    """The run is not in a state that allows what was asked (cancel a finished run, ...)."""


class RunClaimedError(ConflictError):
    """A run that another live process drives."""


class DuplicateRunError(ConflictError):
    """A run with the same key (flow and logical date, or event id) exists already."""


class PausedError(ConflictError):
    """The flow is paused: nothing was queued."""


class RunFailedError(WeirError):
    """``run.result()`` of a run that did not succeed."""

    http_status = 409


class EventError(WeirError):
    """An event that cannot be sent: a bad name, id or payload.

    Attributes:
        field: the part of the event at fault (``name``, ``id`` or ``payload``), or None.
    """

    http_status = 422

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message, fields=[(field, message)] if field else ())
        self.field = field


class NoListenerError(EventError):
    """No flow listens to the event."""

    http_status = 404


class PausedListenersError(ConflictError):
    """Every flow that listens to the event is paused: nothing was sent."""


class BackfillError(WeirError):
    """A backfill that cannot be planned: no time schedule, start after end, too many intervals."""

    http_status = 422


class PoolError(WeirError):
    """A bad pool name or slot count, or a task that names a pool that does not exist."""

    http_status = 422


class NotifierError(WeirError, ValueError):
    """A notifier configured wrongly (a bad URL, no recipients, ...)."""

    http_status = 422


class DeliveryError(WeirError):
    """A notifier could not deliver its message (the server refused it, or did not answer)."""

    http_status = 502


class ExecutorError(WeirError):
    """An unknown executor name, or an executor that cannot start."""


class StoreUnavailableError(WeirError):
    """The store does not answer (the database is down or unreachable)."""

    http_status = 503


class SettingsError(WeirError):
    """A setting has a value weir cannot use."""
