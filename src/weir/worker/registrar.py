"""The registrar: loads flow files in a process of its own and returns their flow snapshots.

The scheduler, the API server and the CLI never import user code: a flow file may hang, exit
or raise at import time, and none of that may stop them. Flow files are loaded by
``python -m weir.worker.registrar FD``, a long-lived "zygote" that imports weir and pydantic
once and forks a child per file. The child imports the file, traces each flow and sends back
its JSON snapshots; the zygote waits with a time limit, kills the child's process group when it
runs over, and reports a child that ended without answering. Callers use :class:`Registrar`.

Protocol (framed pickles over a socket pair, :class:`multiprocessing.connection.Connection`):

- client -> zygote: an init dict ``{"sys_path": [...], "cwd": "...", "project_root": "..."}``,
  then ``("load", path, timeout_seconds)`` for each file and ``("stop",)`` to exit;
- zygote -> client: one ``{"snapshots": [...], "error": str | None}`` per ``load``.

The zygote exits when told to stop or when its socket closes (its parent died). It is
single-threaded on purpose: only a single-threaded process can safely ``fork``.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NoReturn

#: Bytes of a file's output (fds 1 and 2) the zygote keeps, and lines of it an error quotes.
_OUTPUT_KEPT = 64 * 1024
_OUTPUT_LINES = 20
#: Characters of output an error quotes at most (20 lines may be long ones).
_OUTPUT_CHARS = 4000
#: Seconds the client waits for the zygote beyond a file's time limit (its start-up included).
_GRACE = 30.0
#: Modules the zygote imports once, so that each child (a fork of it) starts with them loaded.
_PRELOAD = ("ctypes", "jsonschema", "pydantic", "weir.graph.snapshot", "weir.schedules", "weir.sdk.snapshot")
#: Seconds :meth:`Registrar.close` lets the zygote exit before killing it.
_STOP_GRACE = 2.0


@dataclass(frozen=True, slots=True, kw_only=True)
class FileResult:
    """What loading one flow file gave.

    Attributes:
        path: the absolute path loaded.
        digest: sha256 (hex) of the file's bytes as the client read them ("" when it could not).
        snapshots: JSON snapshots, one per valid flow of the file, in definition order.
        error: why the file, or some of its flows, did not load; None when all went well.
    """

    path: str
    digest: str
    snapshots: list[dict[str, Any]]
    error: str | None


class Registrar:
    """Loads flow files in a registrar process, started on first use.

    Args:
        project_root: the zygote's working directory, added to its ``sys.path``; snapshots name
            flow files relative to it, and relative paths given to :meth:`load` start from it.
        timeout: seconds one file may take to import and trace before it is stopped.

    Safe to use from several threads (requests are served one at a time). :meth:`close`, or
    interpreter exit, stops the process.
    """

    def __init__(self, project_root: Path, timeout: float = 30.0) -> None:
        self.project_root = Path(project_root).resolve()
        self.timeout = timeout
        self._lock = threading.Lock()
        self._zygote: dict[str, Any] = {}  # "popen", "conn" while running; shared with the finalizer
        self._finalizer = weakref.finalize(self, _stop, self._zygote)

    @property
    def pid(self) -> int | None:
        """The zygote's process id, None while none runs."""
        popen = self._zygote.get("popen")
        return popen.pid if popen is not None else None

    def load(self, paths: Sequence[Path]) -> list[FileResult]:
        """Load each file in ``paths``; one result per path, in order. Never raises for a bad file.

        A file that cannot be read is reported without asking the zygote. If the zygote dies
        (it should not), it is restarted once and the request retried. After :meth:`close`, every
        file is reported as not loaded.

        Raises:
            OSError: the registrar process cannot be started (no memory, no file descriptors).
        """
        results = []
        with self._lock:
            broken = None  # why the zygote cannot serve: once so, the remaining files are spared
            for given in paths:
                path = (self.project_root / given).resolve()
                try:
                    digest = hashlib.sha256(path.read_bytes()).hexdigest()
                except OSError as exc:
                    reason = "no such file" if isinstance(exc, FileNotFoundError) else exc.strerror
                    results.append(FileResult(path=str(path), digest="", **_failed(f"{path}: {reason}")))
                    continue
                reply = broken or self._ask(str(path))
                if isinstance(reply, str):
                    broken, reply = reply, _failed(f"{path}: {reply}")
                results.append(FileResult(path=str(path), digest=digest, **reply))
        return results

    def close(self) -> None:
        """Stop the zygote: ask it to exit, wait up to 2 s, then kill it. Idempotent."""
        with self._lock:
            self._finalizer()

    def _ask(self, path: str) -> dict[str, Any] | str:
        """The zygote's reply for ``path``, or why no zygote could give one."""
        reason = ""
        for _ in range(2):  # a zygote that died (or stopped answering) is replaced once
            if "conn" not in self._zygote:
                if not self._finalizer.alive:  # closed (or the interpreter is exiting)
                    return "the registrar is closed"
                self._start()
            conn: Connection = self._zygote["conn"]
            with contextlib.suppress(EOFError, OSError):
                conn.send(("load", path, self.timeout))
                if conn.poll(self.timeout + _GRACE):
                    reply: dict[str, Any] = conn.recv()
                    return reply
            reason = _stop(self._zygote, kill=True)
        return f"the registrar process died ({reason}) while loading a file; see its stderr"

    def _start(self) -> None:
        parent_end, child_end = socket.socketpair()
        try:
            popen = subprocess.Popen(
                [sys.executable, "-m", "weir.worker.registrar", str(child_end.fileno())],
                pass_fds=[child_end.fileno()],
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C on the caller does not reach it; it exits on EOF
            )
        except BaseException:
            parent_end.close()
            raise
        finally:
            child_end.close()
        conn = Connection(parent_end.detach())
        self._zygote.update(popen=popen, conn=conn)
        root = str(self.project_root)
        sys_path = [*sys.path, root] if root not in sys.path else list(sys.path)
        with contextlib.suppress(OSError):
            conn.send({"sys_path": sys_path, "cwd": root, "project_root": root})


def _stop(zygote: dict[str, Any], *, kill: bool = False) -> str:
    """Stop the zygote in ``zygote`` (asking first unless ``kill``); returns how it ended."""
    popen: subprocess.Popen[bytes] | None = zygote.pop("popen", None)
    conn: Connection | None = zygote.pop("conn", None)
    if popen is None or conn is None:
        return "not started"
    if not kill:
        with contextlib.suppress(OSError):
            conn.send(("stop",))
    with contextlib.suppress(OSError):
        conn.close()  # it exits on EOF too
    try:
        popen.wait(timeout=0.1 if kill else _STOP_GRACE)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(popen.pid, signal.SIGKILL)
        popen.wait()
    return _death(popen.returncode)


def _failed(error: str) -> dict[str, Any]:
    return {"snapshots": [], "error": error}


def _death(code: int) -> str:
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


_shared: dict[tuple[Path, float], Registrar] = {}
_shared_lock = threading.Lock()


def shared_registrar(project_root: Path, timeout: float) -> Registrar:
    """One registrar per (project root, timeout) per process, started on first use, stopped at exit."""
    key = (Path(project_root).resolve(), timeout)
    with _shared_lock:
        registrar = _shared.get(key)
        if registrar is None:
            registrar = _shared[key] = Registrar(key[0], timeout)
        return registrar


# -- the zygote -------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    """Serve ``load`` requests on the connection whose file descriptor is ``argv[0]``."""
    if len(argv) != 1 or not argv[0].isdigit():
        print("usage: python -m weir.worker.registrar FD", file=sys.stderr)
        return 2
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn = Connection(int(argv[0]))
    try:
        init = conn.recv()
    except (EOFError, OSError):
        return 0
    sys.path[:] = init["sys_path"]
    os.chdir(init["cwd"])
    # A module that does not import fails each file with its ImportError (the child imports it
    # again), which says more than a zygote that died.
    for name in _PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    with contextlib.suppress(Exception):
        _warm_up()
    root = Path(init["project_root"])
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return 0  # the parent is gone
        if message[0] != "load":
            return 0
        _, path, timeout = message
        try:
            reply = _load(conn, path, float(timeout), root)
        except Exception as exc:  # fork or pipe trouble: this file fails, the zygote goes on
            reply = _failed(f"{path}: the registrar could not load it: {exc!r}")
        try:
            conn.send(reply)
        except OSError:
            return 0


def _warm_up() -> None:
    """Snapshot a throwaway flow, so that the lazy imports of a first snapshot (pydantic building
    its models, ~60 ms) happen once here rather than in every child."""
    import weir
    from weir.graph.snapshot import snapshot_to_json
    from weir.sdk.snapshot import snapshot_of

    @weir.task
    def one() -> int:
        return 1

    @weir.flow
    def warm_up(n: int = 1) -> int:
        return one()

    snapshot_to_json(snapshot_of(warm_up))


def _load(conn: Connection, path: str, timeout: float, root: Path) -> dict[str, Any]:
    """Load ``path`` in a forked child within ``timeout`` seconds; the reply for the client."""
    out_r, out_w = os.pipe()
    res_r, res_w = os.pipe()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()  # or the child would print it again
    zygote = os.getpid()
    pid = os.fork()
    if pid == 0:
        _child(conn, path, root, zygote, (out_r, out_w, res_r, res_w))
    os.close(out_w)
    os.close(res_w)
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)  # the child does it too; whoever is first, killpg below finds it
    output = bytearray()
    try:
        answer = _collect(res_r, out_r, output, time.monotonic() + timeout)
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)  # before reaping, so the group id cannot be reused yet
        _, status = os.waitpid(pid, 0)
        # What is left, without waiting for a subprocess that inherited the pipe to close it.
        for _ in range(64):
            if not (select.select([out_r], [], [], 0)[0] and _keep(out_r, output)):
                break
        os.close(out_r)
        os.close(res_r)
    if answer is None:
        took = f"took longer than {timeout:g} s (registrar_timeout); it was stopped"
        reply = _failed(f"{path}: importing the flow file {took}")
    elif not answer:
        ended = _death(os.waitstatus_to_exitcode(status))
        reply = _failed(f"{path}: the flow file ended the process while it was imported ({ended})")
    else:
        reply = json.loads(answer)
    if reply["error"] and output:
        lines = [line.rstrip() for line in output.decode(errors="replace").splitlines() if line.strip()]
        printed = " | ".join(lines[-_OUTPUT_LINES:])[-_OUTPUT_CHARS:]
        if printed:
            reply["error"] += f"; it printed: {printed}"
    return reply


def _collect(res_r: int, out_r: int, output: bytearray, deadline: float) -> bytes | None:
    """The child's answer (b"" when it ended without one, None on timeout); keeps its output."""
    answer = bytearray()
    fds = [res_r, out_r]
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        ready, _, _ = select.select(fds, [], [], remaining)
        if out_r in ready and not _keep(out_r, output):
            fds.remove(out_r)
        if res_r in ready:
            data = os.read(res_r, 1 << 20)
            answer += data
            # Length-prefixed, so a subprocess that inherited the pipe cannot keep the answer open.
            size = int.from_bytes(answer[:8], "big") if len(answer) >= 8 else -1
            if size >= 0 and len(answer) >= 8 + size:
                return bytes(answer[8 : 8 + size])
            if not data:
                return b""


def _keep(out_r: int, output: bytearray) -> bool:
    """Read some output into ``output`` (keeping its end); False at end of file."""
    data = os.read(out_r, 65536)
    output += data
    del output[:-_OUTPUT_KEPT]
    return bool(data)


def _child(conn: Connection, path: str, root: Path, zygote: int, fds: tuple[int, int, int, int]) -> NoReturn:
    """In the forked child: load ``path``, write the answer, and exit (never returns)."""
    out_r, out_w, res_r, res_w = fds
    try:
        os.setpgid(0, 0)
        if sys.platform == "linux":  # killed when the zygote dies: a killed zygote leaves no hang behind
            import ctypes  # preloaded

            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
        if os.getppid() != zygote:
            os._exit(1)  # it died before prctl took effect
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        conn.close()  # the zygote's socket: its parent must see it close when the zygote dies
        os.close(out_r)
        os.close(res_r)
        os.dup2(out_w, 1)
        os.dup2(out_w, 2)
        os.close(out_w)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # a TextIOWrapper
        answer = _snapshots(path, root)
    except BaseException as exc:
        answer = _failed(f"{path}: loading the flow file failed: {type(exc).__name__}: {exc}")
    try:
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            with contextlib.suppress(Exception):
                stream.flush()  # type: ignore[union-attr]  # __stdout__ may be None: suppressed
        data = json.dumps(answer).encode()
        data = len(data).to_bytes(8, "big") + data
        while data:
            data = data[os.write(res_w, data) :]
    finally:
        os._exit(0)


def _line_in(exc: BaseException, path: str, root: Path) -> str | None:
    """``file:line`` of the last line of the flow file ``path`` in ``exc``'s traceback (where a
    notifier or a decorator was given a bad value), relative to the project root; None if none."""
    import traceback

    target = os.path.realpath(path)
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if os.path.realpath(f.filename) == target]
    if not frames:
        return None
    try:
        shown = Path(target).relative_to(root.resolve()).as_posix()
    except ValueError:
        shown = path
    return f"{shown}:{frames[-1].lineno}"


def _snapshots(path: str, root: Path) -> dict[str, Any]:
    """Import ``path`` and snapshot each of its flows (this runs the user's code)."""
    from weir.errors import WeirError
    from weir.graph.snapshot import snapshot_to_json
    from weir.sdk.loader import flows_in, load_file
    from weir.sdk.snapshot import snapshot_of

    try:
        module = load_file(path)
    except WeirError as exc:
        where = _line_in(exc, path, root)
        text = str(exc)
        return _failed(f"{where}: {text}" if where and not text.startswith(where) else text)
    except BaseException as exc:
        return _failed(f"{path}: importing the flow file raised {type(exc).__name__}: {exc}")
    snapshots, problems = [], []
    for flow in flows_in(module):
        try:
            data = snapshot_to_json(snapshot_of(flow, root))
            json.dumps(data)  # a value that is not JSON is this flow's error, not the file's
        except WeirError as exc:
            problems.append(f"flow {flow.name!r}: {exc}")
            continue
        except BaseException as exc:
            problems.append(f"flow {flow.name!r}: {type(exc).__name__}: {exc}")
            continue
        snapshots.append(data)
    return {"snapshots": snapshots, "error": "; ".join(problems) or None}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
