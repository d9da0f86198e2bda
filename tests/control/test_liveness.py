"""``weir.control.liveness``: on its own host, an owner whose process is gone (no such pid, or a
zombie) loses its lease at once; one whose process is alive, or that lives on another host, keeps it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from weir.control.context import Context
from weir.control.liveness import process_gone, reap_local
from weir.store import owners
from weir.store.records import OwnerRecord
from weir.testing import FakeClock

from .conftest import NOW

LEASE = timedelta(seconds=30)


def record(ctx: Context, owner_id: str, pid: int, host: str | None = None) -> None:
    """An owner with a good lease for process ``pid`` on ``host`` (default: this host)."""
    with ctx.store.transaction() as tx:
        owners.register(
            tx,
            OwnerRecord(
                id=owner_id,
                host=host or socket.gethostname(),
                pid=pid,
                kind="scheduler",
                started_at=NOW,
                heartbeat_at=NOW,
                lease_expires_at=NOW + LEASE,
            ),
        )


def lease_of(ctx: Context, owner_id: str) -> object:
    with ctx.store.read() as conn:
        found = owners.get(conn, owner_id)
    assert found is not None
    return found.lease_expires_at


def ended_pid() -> int:
    """The pid of a process that ran and was waited for: no process has it now."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


@pytest.fixture
def zombie() -> Iterator[subprocess.Popen[bytes]]:
    """A child that has exited and that nobody waited for: a zombie until the test ends."""
    proc = subprocess.Popen(["true"])
    stat = Path(f"/proc/{proc.pid}/stat")
    deadline = time.monotonic() + 5
    while stat.read_text().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline, "the child did not exit"
        time.sleep(0.01)
    yield proc
    proc.wait()


def test_process_gone_tells_a_live_process_from_a_missing_one_and_a_zombie(
    sleeper: subprocess.Popen[bytes], zombie: subprocess.Popen[bytes]
) -> None:
    assert process_gone(sleeper.pid) is False
    assert process_gone(os.getpid()) is False
    assert process_gone(ended_pid()) is True
    assert process_gone(zombie.pid) is True


def test_reap_local_ends_the_leases_of_owners_whose_process_is_gone(
    ctx: Context, clock: FakeClock, sleeper: subprocess.Popen[bytes], zombie: subprocess.Popen[bytes]
) -> None:
    record(ctx, "missing", ended_pid())
    record(ctx, "zombie", zombie.pid)
    record(ctx, "alive", sleeper.pid)
    record(ctx, "me", os.getpid())
    record(ctx, "far", ended_pid(), host="another-host")
    clock.advance(1)

    reaped = reap_local(ctx.store, clock)

    assert sorted(reaped) == ["missing", "zombie"]
    assert lease_of(ctx, "missing") == lease_of(ctx, "zombie") == clock.now()
    for kept in ("alive", "me", "far"):
        assert lease_of(ctx, kept) == NOW + LEASE
    assert reap_local(ctx.store, clock) == []  # an ended lease is not ended again


def test_reap_local_leaves_owners_whose_lease_has_run_out_alone(ctx: Context, clock: FakeClock) -> None:
    record(ctx, "old", ended_pid())
    clock.advance(LEASE + timedelta(seconds=1))

    assert reap_local(ctx.store, clock) == []
    assert lease_of(ctx, "old") == NOW + LEASE
