"""The scheduler's own figures, kept in prometheus-client's default registry.

The store says how many runs there are; only the scheduler process knows how long its passes take
and how late it handles a fire time. The scheduler imports this module when it starts (``import
weir`` never does), and ``/metrics`` adds these series when a scheduler runs in the same process
(``weir server``). A split ``weir api`` has only the store's ``weir_scheduler_heartbeat_age_seconds``.

Series (all histograms):

* ``weir_scheduler_pass_seconds``: the scheduling work of one pass (read flow files, create due
  runs, watch files, take queued runs).
* ``weir_scheduler_loop_step_seconds``: the work of one loop step (hand out tasks, write reports),
  the wait for reports left out.
* ``weir_scheduler_lag_seconds``: for each scheduled run created, how long after its fire time (the
  end of its interval) the scheduler created it, on the scheduler's clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import REGISTRY, Histogram

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

#: The prefix every series of this module carries.
PREFIX = "weir_scheduler_"

_WORK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_LAG_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0)

PASS_SECONDS = Histogram(
    "weir_scheduler_pass_seconds",
    "Seconds of scheduling work per scheduler pass (flows, due runs, file watches, taking runs)",
    buckets=_WORK_BUCKETS,
)
LOOP_STEP_SECONDS = Histogram(
    "weir_scheduler_loop_step_seconds",
    "Seconds of work per scheduler loop step, the wait for reports left out",
    buckets=_WORK_BUCKETS,
)
LAG_SECONDS = Histogram(
    "weir_scheduler_lag_seconds",
    "Seconds between a scheduled run's fire time and the scheduler creating it",
    buckets=_LAG_BUCKETS,
)


def scheduler_families() -> Iterator[Metric]:
    """The ``weir_scheduler_*`` families of the default registry, collected now."""
    for family in REGISTRY.collect():
        if family.name.startswith(PREFIX):
            yield family
