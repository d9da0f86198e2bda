"""The tries of one run as records: made when a try starts, filled in when it ends, made up for
a try lost in the queue or a cache hit, and read back (results, lengths, running tries) when a
run is taken up again."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from weir.executors.base import Finished, TryKey
from weir.io.results import ResultRef
from weir.states import TASK_SUCCESSES, TaskState
from weir.store.records import CacheEntry, TaskRunRecord, TryRecord

TaskKey = tuple[str, int]

#: The error of a try that was running when the process driving its run stopped.
INTERRUPTED = (
    "interrupted: the process driving the run stopped while this try ran (crash, kill, restart); "
    "it runs again and does not count against the task's retries"
)
#: The error of a try that left for an executor that went away with its driver before it was seen starting.
LOST_IN_QUEUE = (
    "interrupted before it was seen starting: the process driving the run stopped; "
    "it runs again and does not count against the task's retries"
)
#: Interruptions in a row after which a task run fails.
MAX_INTERRUPTIONS = 3


def started(run_id: int, record: TaskRunRecord, at: datetime, worker: str, log_key: str) -> TryRecord:
    """The record of ``record``'s current try, which has just started."""
    return TryRecord(
        run_id=run_id,
        task_id=record.task_id,
        map_index=record.map_index,
        number=record.try_number,
        state=TaskState.RUNNING,
        started_at=at,
        worker=worker,
        log_path=log_key,
    )


def ended(try_record: TryRecord, report: Finished) -> None:
    """Fill in what the executor reported at the end of the try."""
    try_record.ended_at = report.ended_at
    try_record.error = report.error
    try_record.traceback = report.traceback
    if report.worker:
        try_record.worker = report.worker


def keep_result(try_record: TryRecord, result: ResultRef, length: int | None) -> None:
    """Record where the try's result is (the task run's result from now on)."""
    try_record.result_data = result.data
    try_record.result_path = result.url
    try_record.result_size = result.size
    try_record.result_digest = result.digest or None
    try_record.result_length = length


def lost(run_id: int, record: TaskRunRecord, at: datetime, error: str) -> TryRecord:
    """The record of a try that left for an executor that went away before it was seen starting."""
    return TryRecord(
        run_id=run_id,
        task_id=record.task_id,
        map_index=record.map_index,
        number=record.try_number,
        state=TaskState.INTERRUPTED,
        ended_at=at,
        error=error,
    )


def ref_of(stored: TryRecord | CacheEntry) -> ResultRef:
    """The result a try (or a cache entry) holds."""
    return ResultRef(
        data=stored.result_data,
        url=stored.result_path,
        size=stored.result_size or 0,
        digest=stored.result_digest or "",
    )


@dataclass(slots=True)
class Restored:
    """What a run's tries tell when it is taken up again."""

    results: dict[TaskKey, ResultRef] = field(default_factory=dict)
    lengths: dict[str, int] = field(default_factory=dict)
    running: dict[TryKey, TryRecord] = field(default_factory=dict)


def restore(
    run_id: int,
    task_runs: Mapping[TaskKey, TaskRunRecord],
    tries: Iterable[TryRecord],
    cached: Mapping[str, CacheEntry],
) -> Restored:
    """The results of the task runs that succeeded (their current try's, or the cache entry of a
    cache hit), the lengths of plain nodes' results, and the tries that were running."""
    out = Restored()
    for record in task_runs.values():
        entry = cached.get(record.cache_key) if record.cache_key else None
        if entry is not None and record.state in TASK_SUCCESSES:
            out.results[record.key] = ref_of(entry)
            if entry.result_length is not None and record.map_index < 0:
                out.lengths[record.task_id] = entry.result_length
    for t in tries:
        owner = task_runs.get((t.task_id, t.map_index))
        if owner is None or t.number != owner.try_number:
            continue
        if t.state in TASK_SUCCESSES and owner.state in TASK_SUCCESSES:
            out.results[owner.key] = ref_of(t)
            if t.result_length is not None and t.map_index < 0:
                out.lengths[t.task_id] = t.result_length
        elif t.state == TaskState.RUNNING:
            out.running[(run_id, t.task_id, t.map_index, t.number)] = t
    return out


def branch_choice(result: ResultRef) -> frozenset[str]:
    """The downstream ids a branch task's stored result names: one id, or a list of ids (nothing,
    when the result cannot be read)."""
    from weir.io.results import peek

    ok, value = peek(result)
    if not ok:
        return frozenset()
    if isinstance(value, str):
        return frozenset({value})
    if isinstance(value, list | tuple):
        return frozenset(v for v in value if isinstance(v, str))
    return frozenset()
