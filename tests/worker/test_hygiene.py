"""The parts of worker hygiene, in this process or in a process of their own: recording and
restoring process state, ending a process's descendants, and what an out-of-memory error says."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from weir.worker.hygiene import record, restore
from weir.worker.memory import cgroup_memory_limit, memory_error_text


def test_restore_puts_back_what_was_changed_and_removes_what_was_added(tmp_path: Path) -> None:
    before = record()
    os.environ["WEIR_TEST_ADDED"] = "1"
    removed = next(iter(os.environ))
    old_value = os.environ.pop(removed)
    os.chdir(tmp_path)
    old_mask = os.umask(0o077)
    sys.path.insert(0, str(tmp_path))
    old_handler = signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 128), hard))
    try:
        assert record() != before
        assert restore(before) == []
        assert record() == before
        assert "WEIR_TEST_ADDED" not in os.environ and os.environ[removed] == old_value
        assert os.getcwd() == before.cwd and str(tmp_path) not in sys.path
    finally:  # should the assertions fail, leave pytest's process as it was all the same
        os.environ.pop("WEIR_TEST_ADDED", None)
        os.environ[removed] = old_value
        os.chdir(before.cwd)
        os.umask(old_mask)
        signal.signal(signal.SIGUSR1, old_handler)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        if sys.path and sys.path[0] == str(tmp_path):
            sys.path.pop(0)


SCRIPT = """
import json, os, subprocess, sys, time
from weir.worker.processes import become_subreaper, end_descendants

assert become_subreaper()
child = subprocess.Popen(["sleep", "300"])
subprocess.run(["sh", "-c", "setsid sleep 300 & echo $! > " + sys.argv[1]], check=True)
escaped = int(open(sys.argv[1]).read())
started = time.monotonic()
ended = end_descendants(grace=1.0)
print(json.dumps({
    "ended": [pid for pid, _ in ended],
    "expected": sorted([child.pid, escaped]),
    "seconds": time.monotonic() - started,
    "left": [p for p in (child.pid, escaped) if os.path.exists(f"/proc/{p}")],
    "again": end_descendants(grace=1.0),
}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a child subreaper is Linux's")
def test_a_subreaper_ends_its_children_and_those_that_escaped_with_setsid(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT), str(tmp_path / "escaped.pid")],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    )
    report = json.loads(out.stdout)
    assert report["ended"] == report["expected"]
    assert report["left"] == [] and report["again"] == []
    assert report["seconds"] < 1.0  # they went at SIGTERM: no grace was waited out


def test_a_memory_error_says_what_was_asked_and_the_limits_that_apply() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (2**40, hard))  # 1 TiB: more than pytest will use
    try:
        text = memory_error_text(MemoryError("Unable to allocate 7.45 GiB for an array with shape (10,)"))
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    assert text.startswith("MemoryError: Unable to allocate 7.45 GiB for an array with shape (10,) (")
    assert "asked for 7.45 GiB" in text
    assert "memory limits: RLIMIT_AS 1 TiB" in text


def test_the_cgroup_memory_limit_is_the_smallest_along_the_path(tmp_path: Path) -> None:
    proc = tmp_path / "cgroup"
    proc.write_text("0::/app/worker\n", encoding="utf-8")
    (tmp_path / "fs" / "app" / "worker").mkdir(parents=True)
    (tmp_path / "fs" / "app" / "worker" / "memory.max").write_text("max\n", encoding="utf-8")
    (tmp_path / "fs" / "app" / "memory.max").write_text(f"{512 * 2**20}\n", encoding="utf-8")
    assert cgroup_memory_limit(str(proc), str(tmp_path / "fs")) == ("cgroup memory.max", 512 * 2**20)


def test_a_cgroup_v1_limit_is_read_and_no_limit_reads_as_none(tmp_path: Path) -> None:
    proc = tmp_path / "cgroup"
    proc.write_text("4:memory:/docker/abc\n1:cpu:/\n", encoding="utf-8")
    memory = tmp_path / "fs" / "memory"
    memory.mkdir(parents=True)  # a container sees its own cgroup as the mount's root
    (memory / "memory.limit_in_bytes").write_text("9223372036854771712\n", encoding="utf-8")
    assert cgroup_memory_limit(str(proc), str(tmp_path / "fs")) is None
    (memory / "memory.limit_in_bytes").write_text(f"{2**30}\n", encoding="utf-8")
    assert cgroup_memory_limit(str(proc), str(tmp_path / "fs")) == ("cgroup memory.limit_in_bytes", 2**30)


DEGRADED = """
import json, os, signal, subprocess, sys, time
from weir.worker.hygiene import Hygiene

def gone(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X")
    except FileNotFoundError:
        return True

def started(command, session):
    subprocess.run(["sh", "-c", command + " >/dev/null 2>&1 & echo $! > " + sys.argv[1]], check=True)
    pid = int(open(sys.argv[1]).read())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # until it runs sleep, in the session it should be in
        fields = open(f"/proc/{pid}/stat", "rb").read().rsplit(b")", 1)[1].split()
        if open(f"/proc/{pid}/comm").read().strip() == "sleep" and int(fields[3]) == (session or pid):
            return pid
        time.sleep(0.005)
    raise AssertionError(f"{command} did not start")

hygiene = Hygiene(subreaper=False)  # as on a platform without a child subreaper
pids = []
try:
    child = subprocess.Popen(["sleep", "300"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pids.append(child.pid)
    pids.append(started("sleep 300", os.getsid(0)))  # still in this group; its parent has exited
    pids.append(started("setsid sleep 300", None))  # left the group, and its parent has exited
    ended = hygiene.end_processes()
    time.sleep(0.2)
    report = {
        "ended": [pid for pid, _ in ended],
        "child": gone(pids[0]),
        "orphan": gone(pids[1]),
        "escaped": gone(pids[2]),
    }
finally:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
print(json.dumps(report))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to check")
def test_without_a_subreaper_the_process_group_is_ended_but_an_escaped_orphan_is_not(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(DEGRADED), str(tmp_path / "pid")],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
        start_new_session=True,  # leads its own group, as a worker does
    )
    report = json.loads(out.stdout)
    assert report["child"] and report["orphan"]
    assert not report["escaped"]  # the documented limit of the degraded mode


@pytest.mark.skipif(not os.path.exists("/bin/ps") and not os.path.exists("/usr/bin/ps"), reason="needs ps")
def test_ps_and_proc_agree_on_this_process() -> None:
    from weir.worker.processes import _proc_table, _ps_table

    me = os.getpid()
    assert _ps_table()[me][:2] == (os.getppid(), os.getpgid(0))
    if sys.platform.startswith("linux"):
        assert _proc_table()[me][:2] == (os.getppid(), os.getpgid(0))


PENDING = """
import signal, threading
from weir.worker.hygiene import record, restore

before = record()
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGQUIT})
signal.pthread_kill(threading.main_thread().ident, signal.SIGQUIT)  # pending: its default kills
assert signal.SIGQUIT in signal.sigpending()
assert restore(before) == []
assert signal.getsignal(signal.SIGQUIT) == signal.SIG_DFL and not signal.sigpending()
print("alive")
"""


def test_a_signal_a_try_blocked_and_left_pending_is_dropped_not_delivered() -> None:
    out = subprocess.run([sys.executable, "-c", PENDING], capture_output=True, text=True, timeout=20)
    assert (out.returncode, out.stdout) == (0, "alive\n"), out.stderr
