"""Flows whose tasks change the worker process they run in, and one that reports what it sees
(imported by module name, in worker processes too)."""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import weir

#: The signals whose handlers :func:`look` reports.
SIGNALS = ("SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGCHLD", "SIGPIPE")


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _handler_name(handler: Any) -> str:
    if isinstance(handler, signal.Handlers):
        return handler.name
    return getattr(handler, "__qualname__", repr(handler))


@weir.task
def look() -> dict[str, Any]:
    """What a try finds when it starts: everything a task before it may have changed."""
    umask = os.umask(0o022)
    os.umask(umask)
    getenv = _libc().getenv
    getenv.restype = ctypes.c_char_p
    return {
        "pid": os.getpid(),
        "environ": dict(os.environ),
        "c_environ": getenv(b"WEIR_TEST_C_LEAK"),
        "cwd": os.getcwd(),
        "nofile": resource.getrlimit(resource.RLIMIT_NOFILE),
        "handlers": {name: _handler_name(signal.getsignal(getattr(signal, name))) for name in SIGNALS},
        "blocked": sorted(signal.pthread_sigmask(signal.SIG_BLOCK, ())),
        "alarm": signal.getitimer(signal.ITIMER_REAL) != (0.0, 0.0),
        "umask": umask,
        "sys_path": list(sys.path),
    }


def _on_usr1(_signum: int, _frame: Any) -> None:
    pass


@weir.task
def meddle() -> dict[str, Any]:
    """Change everything a task can change in its process, and say what it then sees."""
    os.environ["WEIR_TEST_LEAK"] = "leaked"
    os.environ["WEIR_TEST_CHANGE"] = "changed"
    del os.environ["WEIR_TEST_KEEP"]
    _libc().setenv(b"WEIR_TEST_C_LEAK", b"leaked", 1)  # behind os.environ's back
    os.chdir("/")
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGUSR1, _on_usr1)
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    signal.signal(signal.SIGALRM, _on_usr1)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2, signal.SIGQUIT})
    # Left pending for the main thread: delivered when unblocked, its default action kills.
    signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGQUIT)
    signal.setitimer(signal.ITIMER_REAL, 60)
    os.umask(0o077)
    sys.path.insert(0, "/nowhere/weir-test")
    return look.fn()


@weir.task
def leave_processes(folder: str) -> dict[str, int]:
    """Start processes and return without waiting for them: a child, a child that ignores
    SIGTERM, one that left the process group with setsid and lost its parent, and a daemon
    (fork, setsid, fork). Returns their pids once each has written it."""
    where = Path(folder)
    child = subprocess.Popen(["sleep", "300"])
    subprocess.run(
        ["sh", "-c", f"setsid sh -c 'trap \"\" TERM; echo $$ > {where}/stubborn; exec sleep 300' &"],
        check=True,
    )
    subprocess.run(["sh", "-c", f"setsid sleep 300 & echo $! > {where}/setsid"], check=True)
    daemon = (
        "import os, sys, time\n"
        "if os.fork(): os._exit(0)\n"
        "os.setsid()\n"
        "if os.fork(): os._exit(0)\n"
        "open(sys.argv[1] + '.tmp', 'w').write(str(os.getpid()))\n"
        "os.rename(sys.argv[1] + '.tmp', sys.argv[1])\n"
        "time.sleep(300)\n"
    )
    subprocess.run([sys.executable, "-c", daemon, str(where / "daemon")], check=True)
    pids = {"child": child.pid}
    deadline = time.monotonic() + 5
    for name in ("stubborn", "setsid", "daemon"):
        path = where / name
        while not (path.exists() and path.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.01)
        pids[name] = int(path.read_text())
    return pids


@weir.task
def escape_and_wait(folder: str) -> None:
    """Start a process that leaves the group and loses its parent, then wait to be cancelled."""
    subprocess.run(["sh", "-c", f"setsid sleep 300 & echo $! > {folder}/setsid"], check=True)
    time.sleep(30)


def _drop_cap_sys_resource() -> None:
    """Give up the capability that lets root raise a hard limit again (a no-op for others)."""
    if os.geteuid() != 0:
        return

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [
            ("effective", ctypes.c_uint32),
            ("permitted", ctypes.c_uint32),
            ("inheritable", ctypes.c_uint32),
        ]

    header = Header(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (Data * 2)()
    libc = _libc()
    if libc.capget(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capget")
    cap_sys_resource = 1 << 24
    data[0].effective &= ~cap_sys_resource
    data[0].permitted &= ~cap_sys_resource
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset")


@weir.task
def lower_hard_limit() -> int:
    """Lower the hard limit of open files below where it was, for good."""
    _drop_cap_sys_resource()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 512 if hard == resource.RLIM_INFINITY else hard - 1))
    return os.getpid()


def _address_space() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmSize in /proc/self/status")


@weir.task
def run_out_of_memory() -> int:
    """Allow 256 MiB more address space than in use, then ask for 2 GiB."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (_address_space() + 256 * 1024 * 1024, hard))
    block = bytearray(2 * 1024 * 1024 * 1024)
    return len(block)


@weir.task
def allocate(mib: int = 512) -> int:
    block = bytearray(mib * 1024 * 1024)
    return len(block) // (1024 * 1024)


@weir.flow
def looking() -> dict[str, Any]:
    return look()


@weir.flow
def meddling() -> dict[str, Any]:
    return meddle()


@weir.flow
def leaving(folder: str) -> dict[str, int]:
    return leave_processes(folder)


@weir.flow
def escaping(folder: str) -> None:
    escape_and_wait(folder)


@weir.flow
def lowering() -> int:
    return lower_hard_limit()


@weir.flow
def exhausting() -> int:
    return run_out_of_memory()


@weir.flow
def allocating() -> int:
    return allocate()


@weir.task
def look_after(_previous: object) -> dict[str, Any]:
    return look.fn()


@weir.flow
def meddling_then_looking() -> dict[str, Any]:
    return look_after(meddle())
