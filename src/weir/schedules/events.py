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


@dataclass(frozen=True, slots=True)
class OnFile:
    """Start a run when a file matching ``glob`` appears (``*``, ``?``, ``[...]`` and ``**``).

    Raises:
        ScheduleError: ``field == "on_file"`` for an empty glob.
    """

    glob: str

    def __post_init__(self) -> None:
        if not isinstance(self.glob, str) or not self.glob.strip():
            raise ScheduleError("on_file", f"expected a non-empty glob pattern, got {self.glob!r}")

    def describe(self) -> str:
        return f"on file {self.glob!r}"
