"""The live progress view of ``weir run``: task counts and elapsed time, redrawn in place."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.text import Text

_DONE = frozenset({"success", "skipped"})
_FAILED = frozenset({"failed", "upstream_failed", "cancelled"})
_RUNNING = frozenset({"running"})


class RunProgress:
    """Counts of task runs done / running / failed / waiting, fed by the run driver's listener.

    Use as a context manager around the run; pass :meth:`update` as the listener. On a
    console that is not a terminal nothing is drawn (scripts and CI logs stay clean).
    """

    def __init__(
        self,
        console: Console,
        flow_name: str,
        task_ids: Iterable[str],
        states: Mapping[str, str] | None = None,
    ) -> None:
        self._console = console
        self._flow_name = flow_name
        self._states: dict[str, str] = dict.fromkeys(task_ids, "pending")
        self._mapped: set[str] = set()
        for label, state in (states or {}).items():  # a run taken up again starts where it was
            if "[" in label:
                task_id = label.split("[", 1)[0]
                self._states.pop(task_id, None)
                self._mapped.add(task_id)
            self._states[label] = state
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self.run_id: int | None = None
        self._live: Live | None = None

    def __enter__(self) -> RunProgress:
        self._started = time.monotonic()
        if self._console.is_terminal:
            # The inline executor swaps sys.stdout/sys.stderr while a task runs: Live must
            # not redirect them too, or task output would leak onto the terminal.
            self._live = Live(
                console=self._console,
                get_renderable=self._render,
                transient=True,
                refresh_per_second=8,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def created(self, run_id: int) -> None:
        """The run has its id (``on_created`` of :func:`weir.runs.run_flow`)."""
        self.run_id = run_id

    def update(self, record: Any) -> None:
        """Note a task run's new state (the driver's listener); never raises."""
        try:
            label, state = record.label, str(record.state)
            with self._lock:
                if record.map_index >= 0:
                    # Once elements exist, the mapped node counts through them, not itself.
                    self._states.pop(record.task_id, None)
                    self._mapped.add(record.task_id)
                elif record.task_id in self._mapped:
                    return
                self._states[label] = state
        except Exception:  # a progress view must never break the run it shows
            pass

    def counts(self) -> dict[str, int]:
        """``done``, ``running``, ``failed``, ``waiting`` and ``total`` task runs."""
        with self._lock:
            states = list(self._states.values())
        done = sum(s in _DONE for s in states)
        failed = sum(s in _FAILED for s in states)
        running = sum(s in _RUNNING for s in states)
        return {
            "done": done,
            "running": running,
            "failed": failed,
            "waiting": len(states) - done - failed - running,
            "total": len(states),
        }

    def running_labels(self) -> list[str]:
        with self._lock:
            return [label for label, state in self._states.items() if state in _RUNNING]

    def _render(self) -> RenderableType:
        c = self.counts()
        elapsed = time.monotonic() - self._started
        run = f"run {self.run_id} " if self.run_id is not None else ""
        line = Text.assemble(
            (f"{run}{self._flow_name}  ", "bold"),
            (f"{c['done']}/{c['total']} done", "green"),
            "  ",
            (f"{c['running']} running", "cyan"),
            "  ",
            (f"{c['failed']} failed", "red" if c["failed"] else "dim"),
            "  ",
            (f"{elapsed:.1f}s", "dim"),
        )
        running = self.running_labels()
        if not running:
            return line
        shown = ", ".join(running[:6]) + (f" (+{len(running) - 6})" if len(running) > 6 else "")
        return Group(line, Text(f"  running: {shown}", style="dim"))
