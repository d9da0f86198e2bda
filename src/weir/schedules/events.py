"""Triggers that are not about time: a named event, a file arriving.

They are validated data only; whoever receives events or watches files matches them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from weir.schedules.base import ScheduleError

_EVENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]*")


@dataclass(frozen=True, slots=True)
class OnEvent:
    """Start a run when an event of this name arrives (through the API or a webhook).

    Args:
        name: letters, digits and ``_ . : / -``, starting with a letter or digit.

    Raises:
        ScheduleError: ``field == "on_event"`` for an empty or malformed name.
    """

    name: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _EVENT_NAME.fullmatch(self.name):
            raise ScheduleError(
                "on_event",
                f"event name {self.name!r} must be letters, digits and '_.:/-', "
                "starting with a letter or digit",
            )

    def describe(self) -> str:
        return f"on event {self.name!r}"


#: Seconds a file's size and modification time must stay the same before it starts a run.
SETTLE = 5.0


@dataclass(frozen=True, slots=True)
class OnFile:
    """Start one run per new file matching ``glob`` (``*``, ``?``, ``[...]`` and ``**``; relative
    to the project root), once it has stopped changing: its size and modification time the same
    for ``settle`` seconds. A file rewritten later starts another run only when its content
    (its hash) changed.

    Raises:
        ScheduleError: ``field == "on_file"`` for an empty glob or a negative ``settle``.
    """

    glob: str
    settle: float = SETTLE

    def __post_init__(self) -> None:
        if not isinstance(self.glob, str) or not self.glob.strip():
            raise ScheduleError("on_file", f"expected a non-empty glob pattern, got {self.glob!r}")
        if isinstance(self.settle, bool) or not isinstance(self.settle, int | float) or not self.settle >= 0:
            raise ScheduleError(
                "on_file", f"settle must be a number of seconds, 0 or more, not {self.settle!r}"
            )

    def describe(self) -> str:
        return f"on file {self.glob!r}"
