"""Ending the processes a try started, when it ends.

On Linux the worker is a child subreaper (``prctl(PR_SET_CHILD_SUBREAPER)``): a process a try
started that escaped with ``setsid`` and lost its parent (a double-forked daemon) is reparented
to the worker, not to pid 1, so :func:`end_descendants` finds every process the try left by
walking ``/proc`` from the worker. Elsewhere (macOS, the BSDs) there is no subreaper, and the
worker degrades to its process group: at the end of each try it sends SIGTERM to its group (which
it leads, ignoring the signal itself), and when a child of its own is still there, it ends what
is below it and in its group (found with ``ps``). A process that left the group with ``setsid``
and lost its parent, or that ignores SIGTERM and lost its parent, is not found there.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import import_module
from typing import Any

#: Seconds a try's leftover processes get between SIGTERM and SIGKILL.
GRACE = 1.0
#: Seconds more, after SIGKILL, to wait for them to go (a process in the kernel may take a moment).
_KILL_WAIT = 2.0
_LINUX = sys.platform.startswith("linux")
_PR_SET_CHILD_SUBREAPER = 36

# The C function behind signal.getsignal (see weir.worker.hygiene).
_getsignal: Callable[[int], Any] = import_module("_signal").getsignal


def become_subreaper() -> bool:
    """Make this process adopt its orphaned descendants (Linux); whether it now does."""
    if not _LINUX:
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, ctypes.c_ulong(1), 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def end_descendants(grace: float = GRACE) -> list[tuple[int, str]]:
    """SIGTERM every process below this one, SIGKILL those left after ``grace`` seconds, and reap
    them; returns ``(pid, name)`` of each process ended.

    Below means: a child, a child's child, and so on, and a process of this process's group when
    it leads it. This process's own threads are not processes and are never signalled.
    """
    me = os.getpid()
    group = _own_group()
    ended: dict[int, str] = {}
    signalled: set[int] = set()
    term_until = time.monotonic() + grace
    kill_until = term_until + _KILL_WAIT
    pause = 0.002
    while True:
        reap_children()
        live = _below(me, _process_table(), group)
        if not live:
            break
        ended.update(live)
        now = time.monotonic()
        if now >= kill_until:
            break  # stuck in the kernel: the next try's end looks again
        sig = signal.SIGTERM if now < term_until else signal.SIGKILL
        for pid in live:
            if sig == signal.SIGKILL or pid not in signalled:
                _signal(pid, sig)
                if sig == signal.SIGTERM:
                    _signal(pid, signal.SIGCONT)  # a stopped process acts on SIGTERM only once it runs
        signalled.update(live)
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
    return sorted(ended.items())


def kill_descendants() -> None:
    """SIGKILL every process below this one at once (a worker about to exit)."""
    for pid in _below(os.getpid(), _process_table(), _own_group()):
        _signal(pid, signal.SIGKILL)


def kill_process_tree(root: int) -> None:
    """SIGKILL ``root`` and every process below it (``root`` being another process).

    Each is stopped first, so none can start another between being found and being killed;
    :func:`end_descendants` says what "below" finds on each platform.
    """
    stopped: set[int] = set()
    for _ in range(10):
        table = _process_table()
        if root not in table:
            break
        found = set(_below(root, table, root)) | {root}
        new = found - stopped
        if not new:
            break
        for pid in new:
            _signal(pid, signal.SIGSTOP)
        stopped |= new
    for pid in stopped:
        _signal(pid, signal.SIGKILL)


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def terminate_group() -> None:
    """SIGTERM the rest of this process's group, when it leads it, while ignoring the signal."""
    group = _own_group()
    if group is None or _getsignal(signal.SIGTERM) is None:
        return  # not its group, or a handler set outside Python that could not be put back
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a signal ignored is discarded
    try:
        _signal(-group, signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _own_group() -> int | None:
    """This process's group when it leads it (a worker does); else None: the group is shared
    with the process that started this one, and nothing in it is this process's to end."""
    group = os.getpgid(0)
    return group if group == os.getpid() else None


def reap_children() -> bool:
    """Reap every exited child; whether children are left."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return False
        if pid == 0:
            return True


#: pid -> (parent pid, process group, state letter, name)
_Table = dict[int, tuple[int, int, str, str]]


def _below(root: int, table: _Table, group: int | None) -> dict[int, str]:
    """Live processes below ``root`` (by parent, transitively) or in process group ``group``."""
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    todo = list(children.get(root, ()))
    if group is not None:
        todo.extend(pid for pid, row in table.items() if row[1] == group)
    while todo:
        pid = todo.pop()
        if pid in found or pid == root or pid == os.getpid():
            continue
        found.add(pid)
        todo.extend(children.get(pid, ()))
    return {pid: table[pid][3] for pid in found if pid in table and table[pid][2] not in "ZX"}


def _process_table() -> _Table:
    return _proc_table() if os.path.isdir("/proc/self") and _LINUX else _ps_table()


def _proc_table() -> _Table:
    table: _Table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat:
                raw = stat.read()
        except OSError:
            continue  # gone meanwhile
        close = raw.rfind(b")")
        fields = raw[close + 2 :].split()
        label = raw[raw.find(b"(") + 1 : close].decode(errors="replace")
        table[int(name)] = (int(fields[1]), int(fields[2]), fields[0].decode(), label)
    return table


def _ps_table() -> _Table:
    try:
        out = subprocess.run(
            ["ps", "-A", "-o", "pid=", "-o", "ppid=", "-o", "pgid=", "-o", "stat=", "-o", "comm="],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    table: _Table = {}
    for line in out.splitlines():
        parts = line.split(None, 4)
        if len(parts) == 5 and parts[0].isdigit():
            table[int(parts[0])] = (int(parts[1]), int(parts[2]), parts[3][:1], os.path.basename(parts[4]))
    return table
