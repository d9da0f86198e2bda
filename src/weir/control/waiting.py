"""Why a run that nobody drives has not started: the one sentence the CLI, the API and the UI
show beside a queued run (``waiting: ...``), so a run never waits without a word.

A run starts once a live scheduler claims it. It waits when its flow is paused, when no
scheduler is running, when its flow has ``max_active_runs`` runs going, or for good when the
code of its flow existed only in a process that has stopped.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from weir.errors import WeirError
from weir.store import flows, owners
from weir.store.runs import ACTIVE_STATES

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from weir.store.records import RunRecord


def why_waiting(conn: Connection, run: RunRecord, now: datetime) -> str | None:
    """Why ``run`` is not being driven now, or None (it runs, it ended, or a scheduler is about
    to take it)."""
    if run.state not in ACTIVE_STATES:
        return None
    if run.owner is not None:
        driver = owners.get(conn, run.owner)
        if driver is not None and driver.holds_lease(now):
            return None  # driven
    if _code_kind(conn, run) == "pickle":
        return (
            f"cannot start: flow {run.flow_name!r} was defined in a process that has stopped (its code "
            "existed only there); cancel this run, and run the flow from a file or module"
        )
    state = flows.get_state(conn, run.flow_name)
    if state is not None and state.paused:
        return f"waiting: flow {run.flow_name!r} is paused; the run starts once it is unpaused"
    if not any(o.kind == "scheduler" for o in owners.live(conn, now)):
        return (
            f"waiting: no scheduler is running to drive flow {run.flow_name!r}; start one with "
            "`weir scheduler` (or `weir server`)"
        )
    limit = _max_active_runs(conn, run)
    if run.state == "queued" and limit is not None:
        active = owners.active_by_flow(conn, now).get(run.flow_name, 0)
        if active >= limit:
            return f"waiting: flow {run.flow_name!r} has {active} active runs, its max_active_runs"
    return None


def _code_kind(conn: Connection, run: RunRecord) -> str | None:
    try:
        return flows.get_version(conn, run.flow_name, run.flow_version).code_kind
    except WeirError:
        return None


def _max_active_runs(conn: Connection, run: RunRecord) -> int | None:
    from weir.control.flows import get_snapshot

    try:
        spec = get_snapshot(conn, run.flow_name).schedule_spec
    except WeirError:
        return None
    return spec.max_active_runs if spec is not None else None
