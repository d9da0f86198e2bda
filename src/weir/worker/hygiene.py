"""Keeping a long-lived worker process clean between tries: what a try changed is put back, and
every process it started is ended when it ends.

A worker of the local executor runs many tries, of many flows, one after another. Before each
try it records the process state a task can change and after it puts that state back
(:func:`record`, :func:`restore`): ``os.environ`` exactly (added, changed and removed names; the
C-level environment too, on glibc), the working directory, the handler of every signal Python
can set, the signal mask, the interval timers, the soft resource limits, ``sys.path`` and the
umask. What cannot be put back (a hard resource limit the try lowered and the worker is not
privileged to raise, a signal handler that C code had set) makes the worker exit after the try,
so the executor starts a fresh one in its place.

What a flow's own code sets up when it is first imported (``load_dotenv()`` or
``sys.path.insert`` at the top of a flow file) belongs to that flow: the worker keeps the module
imported, so the state after the import is recorded and put back before each later try of the
same flow, and never shown to tries of other flows.

Ending the processes a try started is :mod:`weir.worker.processes`; the message of a
``MemoryError`` is :mod:`weir.worker.memory`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import resource
import signal
import sys
from collections.abc import Callable
from importlib import import_module
from typing import Any

from weir.worker.processes import GRACE, become_subreaper, end_descendants, reap_children, terminate_group

_LINUX = sys.platform.startswith("linux")

_SIGNALS = tuple(int(s) for s in sorted(signal.valid_signals()) if s not in (signal.SIGKILL, signal.SIGSTOP))
_TIMERS = (signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF)
_LIMIT_NAMES = {
    getattr(resource, n): n for n in sorted(dir(resource), reverse=True) if n.startswith("RLIMIT_")
}
_LIMITS = tuple(sorted(_LIMIT_NAMES))

Handler = Callable[[int, Any], Any] | int | None

# The C function behind signal.getsignal (typeshed has no stub for its module): the public one
# wraps each answer in an enum, which makes reading every handler at each try's end fifteen
# times slower (37 µs against 2.5 µs).
_getsignal: Callable[[int], Handler] = import_module("_signal").getsignal


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ProcessState:
    """What a task can change in the process that runs it, as :func:`record` found it."""

    environ: dict[bytes, bytes]
    cwd: str
    umask: int
    sys_path: tuple[str, ...]
    handlers: tuple[Handler, ...]  # in the order of _SIGNALS
    blocked: frozenset[int]
    timers: tuple[bool, ...]  # which interval timers were armed
    limits: tuple[tuple[int, int], ...]  # (soft, hard) in the order of _LIMITS


def record() -> ProcessState:
    """The current process's state (call it in the main thread: signals are set there)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return ProcessState(
        environ=dict(_environ_data()),
        cwd=_cwd(),
        umask=umask,
        sys_path=tuple(sys.path),
        handlers=tuple(map(_getsignal, _SIGNALS)),
        blocked=frozenset(signal.pthread_sigmask(signal.SIG_BLOCK, ())),
        timers=tuple(signal.getitimer(t) != (0.0, 0.0) for t in _TIMERS),
        limits=tuple(map(resource.getrlimit, _LIMITS)),
    )


def restore(state: ProcessState) -> list[str]:
    """Put the process back as ``state`` says (main thread only); returns what could not be.

    Each problem is a sentence naming what stays changed; the caller should not run another
    try in this process. Never raises for a part it cannot restore: it restores the others.
    """
    problems: list[str] = []
    _restore_environ(state.environ)
    if _cwd() != state.cwd:
        try:
            os.chdir(state.cwd)
        except OSError as exc:
            problems.append(f"cannot go back to the working directory {state.cwd}: {exc.strerror}")
    os.umask(state.umask)
    if tuple(sys.path) != state.sys_path:
        sys.path[:] = state.sys_path
    handlers = tuple(map(_getsignal, _SIGNALS))
    for signum, now, handler in zip(_SIGNALS, handlers, state.handlers, strict=True):
        if now == handler:
            continue
        if handler is None:
            problems.append(
                f"{_signal_name(signum)} had a handler set outside Python, which cannot be put back"
            )
            continue
        try:
            signal.signal(signum, handler)
        except (OSError, ValueError, TypeError) as exc:
            problems.append(f"cannot restore the handler of {_signal_name(signum)}: {exc}")
    blocked = frozenset(signal.pthread_sigmask(signal.SIG_BLOCK, ()))
    if blocked != state.blocked:
        # A signal the try blocked and left pending was meant for the try: ignoring it discards
        # it, where unblocking it would deliver it to the worker (and SIGTERM's default kills).
        for signum in signal.sigpending() & (blocked - state.blocked):
            if _getsignal(signum) is not None:
                signal.signal(signum, signal.signal(signum, signal.SIG_IGN))
        signal.pthread_sigmask(signal.SIG_SETMASK, state.blocked)
    for which, armed in zip(_TIMERS, state.timers, strict=True):
        if not armed and signal.getitimer(which) != (0.0, 0.0):
            signal.setitimer(which, 0)  # a timer the try left running would fire in the next one
    limits = tuple(map(resource.getrlimit, _LIMITS))
    if limits != state.limits:
        problems.extend(_restore_limits(limits, state.limits))
    return problems


class Hygiene:
    """What a worker process does around each try so the next one starts clean.

    Args:
        max_tries: tries after which the worker should exit and be replaced (0: no limit).
        grace: seconds between SIGTERM and SIGKILL for the processes a try leaves running.
        subreaper: become a child subreaper where the platform has one (Linux); False gives the
            degraded behaviour of other platforms.

    Create it once the worker is set up (its state then is what every try starts from): it
    makes the process a child subreaper on Linux. Then, for each try: :meth:`prepare` once the
    flow's code is loaded; when the try has ended, :meth:`end_processes` then :meth:`finish`;
    then exit if :meth:`finish` returned a problem or :attr:`spent` is true.
    """

    def __init__(self, *, max_tries: int = 0, grace: float = GRACE, subreaper: bool = True) -> None:
        self.subreaper = subreaper and become_subreaper()
        self.baseline = record()
        self.max_tries = max_tries
        self.grace = grace
        self.tries = 0
        self._flow_states: dict[str, ProcessState] = {}
        self._loaded: set[str] = set()

    def prepare(self, flow_key: str) -> None:
        """The flow ``flow_key`` is loaded: give the try the state its first import left."""
        if flow_key not in self._loaded:
            self._loaded.add(flow_key)
            state = record()
            if state != self.baseline:
                self._flow_states[flow_key] = state
            return
        saved = self._flow_states.get(flow_key)
        if saved is not None:
            restore(saved)

    def has_processes(self) -> bool:
        """Whether the try left a process to end: on Linux, exactly whether this process has a
        child (what the try left below it is adopted by it); elsewhere, whether a child is left."""
        return reap_children()

    def end_processes(self) -> list[tuple[int, str]]:
        """End what the try left running (see :func:`end_descendants`); ``(pid, name)`` of each
        process found and ended (without a subreaper, those SIGTERM to the group ended are not
        named)."""
        if not self.subreaper:
            terminate_group()
        if not reap_children():
            return []
        return end_descendants(self.grace)

    @property
    def spent(self) -> bool:
        """Whether the worker has run its ``max_tries`` and should be replaced."""
        return bool(self.max_tries) and self.tries >= self.max_tries

    def finish(self) -> str | None:
        """Put the process back as it was before the try (call :meth:`end_processes` first).

        Returns a sentence when something the try changed cannot be undone (the process must
        not run another try); None when the process is clean again.
        """
        self.tries += 1
        problems = restore(self.baseline)
        if problems:
            return "the try changed what cannot be put back: " + "; ".join(problems)
        return None


# -- internals ------------------------------------------------------------------------------------


def _cwd() -> str:
    try:
        return os.getcwd()
    except OSError:
        return ""  # the folder was removed under the process


def _environ_data() -> dict[bytes, bytes]:
    """The dict behind ``os.environ`` and ``os.environb`` (bytes to bytes on POSIX): copying it
    takes 1 µs, against 13 µs for ``dict(os.environb)``, which decodes each entry."""
    data = getattr(os.environ, "_data", None)
    return data if isinstance(data, dict) else dict(os.environb)


def _restore_environ(saved: dict[bytes, bytes]) -> None:
    environ = os.environb  # shares its data with os.environ: one change shows in both
    now = _environ_data()
    if now != saved:
        now = dict(now)
        for name in now.keys() - saved.keys():
            del environ[name]
        for name, value in saved.items():
            if now.get(name) != value:
                environ[name] = value
    _C_ENVIRON.sync()


class _CEnvironment:
    """The C library's environment, which subprocesses inherit: C code can ``setenv`` without
    Python seeing it. :meth:`sync` makes it match ``os.environ`` again (glibc and musl; a no-op
    where the ``environ`` array cannot be found). Its entries' addresses tell cheaply whether
    anything changed since the last sync: a change replaces, adds or removes an entry."""

    def __init__(self) -> None:
        self._array: Any = None
        self._seen: tuple[int, ...] = ()
        if _LINUX:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                import ctypes

                self._ctypes = ctypes
                self._array = ctypes.c_void_p.in_dll(ctypes.CDLL(None), "environ")

    def sync(self) -> None:
        if self._array is None:
            return
        entries = self._entries()
        if entries == self._seen:
            return
        wanted = os.environb
        present: set[bytes] = set()
        for address in entries:
            name, _, value = self._ctypes.string_at(address).partition(b"=")
            present.add(name)
            if name not in wanted:
                os.unsetenv(name)
            elif wanted[name] != value:
                os.putenv(name, wanted[name])
        for name in wanted.keys() - present:
            os.putenv(name, wanted[name])
        self._seen = self._entries()

    def _entries(self) -> tuple[int, ...]:
        base = self._array.value
        if not base:
            return ()
        array = self._ctypes.cast(base, self._ctypes.POINTER(self._ctypes.c_void_p))
        found: list[int] = []
        while address := array[len(found)]:
            found.append(address)
        return tuple(found)


_C_ENVIRON = _CEnvironment()


def _restore_limits(limits: tuple[tuple[int, int], ...], saved: tuple[tuple[int, int], ...]) -> list[str]:
    problems: list[str] = []
    for number, now, (soft, hard) in zip(_LIMITS, limits, saved, strict=True):
        if now == (soft, hard):
            continue
        try:
            resource.setrlimit(number, (soft, hard))
        except (ValueError, OSError):
            # The hard limit was lowered and only a privileged process may raise it: keep the
            # soft limit as close as it can be, and say so.
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(number, (_lower(soft, now[1]), now[1]))
            problems.append(
                f"the hard limit {_LIMIT_NAMES[number]} was lowered from {_limit(hard)} to {_limit(now[1])}, "
                "which this process may not raise again"
            )
    return problems


def _lower(a: int, b: int) -> int:
    if a == resource.RLIM_INFINITY:
        return b
    if b == resource.RLIM_INFINITY:
        return a
    return min(a, b)


def _limit(value: int) -> str:
    return "unlimited" if value == resource.RLIM_INFINITY else str(value)


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"
