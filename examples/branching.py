"""branching: choose one path at run time, skip the other, and join them again.

Shows: a branch task (``@weir.task(branch=True)``) returning the task id of the path to
follow; the path not chosen is ``skipped``; ``a >> [b, c]`` ordering without passing data;
a join with ``trigger="none_failed"`` that runs when one path was skipped (the default
``all_success`` would be skipped too). The ``mode`` param is checked before anything runs:
only ``full`` and ``incremental`` are accepted.

Run it:

    weir run examples/branching.py:branching -p mode=full
    python examples/branching.py
"""

from typing import Literal

import weir


@weir.task(branch=True)
def choose(mode: str) -> str:
    """Return the task id of the path to follow."""
    return "full_refresh" if mode == "full" else "incremental"


@weir.task
def full_refresh() -> str:
    """Rebuild everything."""
    return "rebuilt all 12 partitions"


@weir.task
def incremental() -> str:
    """Process what is new."""
    return "appended 1 new partition"


@weir.task(trigger="none_failed")
def report(full: str | None, incr: str | None) -> str:
    """Runs after whichever path ran; the skipped one gives None."""
    return full if full is not None else str(incr)


@weir.flow
def branching(mode: Literal["full", "incremental"] = "incremental") -> str:
    """Refresh a table fully or incrementally, chosen by ``mode``."""
    choice = choose(mode)
    full = full_refresh()
    incr = incremental()
    choice >> [full, incr]
    return report(full, incr)


if __name__ == "__main__":
    run = branching.run(mode="full")
    states = {t.task_id: t.state for t in run.task_runs}
    print(f"run {run.id}: {run.state} -> {run.result()!r}; task states: {states}")
