"""What one run's engine changed since it was last written, ready for one transaction.

Every task-run move is checked against the transition table and kept as one compare-and-set
per task run per step: from the state the store holds (the first old state seen since the last
write) to the newest. Task runs created in the step are inserted with their newest values
instead. Every move also appends an event row.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from weir.clock import Clock
from weir.states import RunState, TaskState, check_run_transition, check_task_transition
from weir.store.records import (
    CacheEntry,
    CallbackCallRecord,
    Changes,
    EventRecord,
    RunChange,
    TaskRunChange,
    TaskRunRecord,
    TryRecord,
)

Listener = Callable[[TaskRunRecord], None]
TaskKey = tuple[str, int]


class ChangeLog:
    """Collects one run's state changes between two writes.

    Args:
        run_id: the run.
        clock: the time events are stamped with.
        listener: called with a task run each time its state changes (progress views).
    """

    def __init__(self, run_id: int, clock: Clock, listener: Listener | None = None) -> None:
        self.run_id = run_id
        self.clock = clock
        self.listener = listener
        self._changes = Changes()
        self._touched: dict[TaskKey, TaskRunChange] = {}
        self._created: set[TaskKey] = set()

    def create(self, records: list[TaskRunRecord]) -> None:
        """New task runs (a mapped node's elements), inserted with their newest values."""
        self._changes.new_task_runs.extend(records)
        self._created.update(r.key for r in records)

    def move(self, record: TaskRunRecord, new: TaskState, reason: str | None = None) -> TaskState:
        """Move ``record`` to ``new`` (checked against the transition table); returns the old state.

        Raises:
            IllegalTransitionError: the table does not allow the move.
        """
        old = TaskState(record.state)
        check_task_transition(old, new)
        self.touch(record)
        record.state = new
        self._changes.events.append(self.event(record, old, new, reason))
        if self.listener is not None:
            self.listener(record)
        return old

    def touch(self, record: TaskRunRecord) -> None:
        """Write ``record``'s values in the next write even when its state does not change (a note)."""
        if record.key not in self._touched and record.key not in self._created:
            self._touched[record.key] = TaskRunChange(expected=record.state, record=record)

    def event(self, record: TaskRunRecord, old: str, new: str, reason: str | None) -> EventRecord:
        """An event row of a task run (not yet kept: see :meth:`add_event`)."""
        return EventRecord(
            run_id=self.run_id,
            task_id=record.task_id,
            map_index=record.map_index,
            from_state=old,
            to_state=new,
            at=self.clock.now(),
            reason=reason,
        )

    def add_event(self, event: EventRecord) -> None:
        self._changes.events.append(event)

    def new_try(self, record: TryRecord) -> None:
        """A try seen for the first time; inserted in the next write with its values then."""
        self._changes.new_tries.append(record)

    def track_try(self, record: TryRecord) -> None:
        """A try whose values changed; a try made since the last write is inserted with them."""
        if not any(t is record for t in self._changes.new_tries) and not any(
            t is record for t in self._changes.tries
        ):
            self._changes.tries.append(record)

    def cache_entry(self, entry: CacheEntry) -> None:
        self._changes.cache_entries.append(entry)

    def callback_call(self, record: CallbackCallRecord) -> None:
        """How one call of callbacks went."""
        self._changes.callback_calls.append(record)

    def set_run(self, old: RunState, new: RunState, at: datetime, **fields: Any) -> None:
        """A compare-and-set of the run's state, with its event.

        Raises:
            IllegalTransitionError: the table does not allow the move.
        """
        check_run_transition(old, new)
        self._changes.runs.append(RunChange(run_id=self.run_id, expected=old, state=new, **fields))
        self._changes.events.append(
            EventRecord(
                run_id=self.run_id,
                task_id=None,
                map_index=None,
                from_state=old,
                to_state=new,
                at=at,
                reason=fields.get("reason"),
            )
        )

    @property
    def pending(self) -> bool:
        """Whether changes wait to be drained."""
        return bool(self._touched) or bool(self._changes)

    def drain(self) -> Changes:
        """The changes collected since the last call, ready to write."""
        changes = self._changes
        changes.task_runs = list(self._touched.values())
        self._changes = Changes()
        self._touched = {}
        self._created = set()
        return changes
