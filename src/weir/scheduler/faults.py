"""Named crash points, for the crash-recovery tests.

With ``WEIR_CRASH_AT=POINT[:N]`` in the environment, the process kills itself with SIGKILL
the N-th time (default 1) it passes ``POINT``, exactly as ``kill -9`` would. The points:

- ``run_created``: the run and its task runs are written, nothing has run;
- ``task_queued``: a step that queued a task is written;
- ``task_running``: a step that recorded a task as running is written (the task is on a worker);
- ``success_written``: a task's success is written, before its dependants are queued.

Unset, every check is one comparison with None.
"""

from __future__ import annotations

import os
import signal

_point: str | None = None
_left = 0


def arm(spec: str | None) -> None:
    """Arm a crash point from a ``POINT[:N]`` spec (None disarms)."""
    global _point, _left
    if not spec:
        _point, _left = None, 0
        return
    name, _, count = spec.partition(":")
    _point, _left = name, int(count or 1)


def armed() -> bool:
    return _point is not None


def crash_at(point: str) -> None:
    """Die here if this is the armed point's N-th pass."""
    global _left
    if _point != point:
        return
    _left -= 1
    if _left <= 0:
        os.kill(os.getpid(), signal.SIGKILL)


arm(os.environ.get("WEIR_CRASH_AT"))
