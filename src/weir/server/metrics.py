"""``/metrics``: figures computed from the store at scrape time, in Prometheus' text format.

When a scheduler runs in the same process (``weir server``), its own ``weir_scheduler_*`` series
(pass duration, loop step duration, lag; see :mod:`weir.metrics`) are added from the default
registry; a split ``weir api`` has the store's ``weir_scheduler_heartbeat_age_seconds`` only.

A scrape reads a few aggregate queries; the result is kept for :data:`CACHE_SECONDS` so that
several scrapers (or a refresh-happy dashboard) do not multiply the load on the store.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from weir.server.state import ServerState
from weir.states import TaskState
from weir.store import owners, runs, tasks

CACHE_SECONDS = 5.0
#: Upper bounds (seconds) of the task duration histogram's buckets.
BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, float("inf"))


class StoreCollector:
    """A prometheus-client collector that reads the store."""

    def __init__(self, state: ServerState) -> None:
        self.state = state

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

        now = self.state.now()
        with self.state.store.read() as conn:
            run_counts = runs.by_flow_and_state(conn)
            task_runs = tasks.task_runs_by_flow_and_state(conn)
            durations: dict[str, list[float]] = {}
            for flow, _state, started, ended in tasks.finished_try_times(conn):
                durations.setdefault(flow, []).append((ended - started).total_seconds())
            queued_tasks = tasks.task_runs_in_states(conn, [TaskState.SCHEDULED, TaskState.QUEUED])
            running_tasks = tasks.task_runs_in_states(conn, [TaskState.RUNNING])
            queued_runs = runs.in_state(conn, "queued")
            drivers = owners.owners(conn)
            failed_callbacks = tasks.failed_callback_calls(conn)

        family = GaugeMetricFamily(
            "weir_runs", "Runs in the store, by flow and state", labels=["flow", "state"]
        )
        for flow, state, count in run_counts:
            family.add_metric([flow, state], count)
        yield family
        family = GaugeMetricFamily(
            "weir_task_runs", "Task runs in the store, by flow and state", labels=["flow", "state"]
        )
        for flow, state, count in task_runs:
            family.add_metric([flow, state], count)
        yield family
        histogram = HistogramMetricFamily(
            "weir_task_duration_seconds", "Duration of finished task tries, by flow", labels=["flow"]
        )
        for flow, values in sorted(durations.items()):
            counts = [0] * len(BUCKETS)
            for value in values:
                for i, bound in enumerate(BUCKETS):
                    if value <= bound:
                        counts[i] += 1
                        break
            cumulative, buckets = 0, []
            for bound, count in zip(BUCKETS, counts, strict=True):
                cumulative += count
                buckets.append(("+Inf" if bound == float("inf") else str(bound), cumulative))
            histogram.add_metric([flow], buckets, sum(values))
        yield histogram
        yield GaugeMetricFamily(
            "weir_queue_depth", "Task runs scheduled or queued, waiting for a worker", value=queued_tasks
        )
        yield GaugeMetricFamily("weir_runs_queued", "Runs queued, waiting for a driver", value=queued_runs)
        yield GaugeMetricFamily("weir_running_tasks", "Task runs running now", value=running_tasks)
        yield GaugeMetricFamily(
            "weir_callback_failures",
            "Callback calls (notifications) that failed: not delivered, or a callback raised",
            value=failed_callbacks,
        )
        beats = [(now - o.heartbeat_at).total_seconds() for o in drivers if o.kind == "scheduler"]
        family = GaugeMetricFamily(
            "weir_scheduler_heartbeat_age_seconds", "Seconds since the freshest scheduler heartbeat"
        )
        if beats:
            family.add_metric([], min(beats))
        yield family
        alive: dict[str, int] = {}
        for o in drivers:
            if o.holds_lease(now):
                alive[o.kind] = alive.get(o.kind, 0) + 1
        family = GaugeMetricFamily(
            "weir_drivers_alive", "Drivers holding a lease (their runs are theirs), by kind", labels=["kind"]
        )
        for kind, count in sorted(alive.items()):
            family.add_metric([kind], count)
        yield family


class SchedulerCollector:
    """The ``weir_scheduler_*`` series of a scheduler running in this process, if one is."""

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        # weir.metrics is imported by a Scheduler only: not loaded means no scheduler here.
        module = sys.modules.get("weir.metrics")
        if module is not None:
            yield from module.scheduler_families()


class Metrics:
    """The scrape output, cached for a few seconds."""

    def __init__(self, state: ServerState) -> None:
        from prometheus_client import CollectorRegistry

        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(StoreCollector(state))
        self._registry.register(SchedulerCollector())
        self._lock = threading.Lock()
        self._cached: tuple[float, bytes] | None = None

    def render(self) -> bytes:
        from prometheus_client import generate_latest

        with self._lock:
            if self._cached is not None and time.monotonic() - self._cached[0] < CACHE_SECONDS:
                return self._cached[1]
            body = generate_latest(self._registry)
            self._cached = (time.monotonic(), body)
            return body
