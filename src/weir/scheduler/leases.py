"""This process as an owner of runs: its record, and the lease it keeps by heartbeat (the
reaper that ends the leases of dead local owners is :mod:`weir.control.liveness`)."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import uuid

from weir.clock import Clock
from weir.store import owners
from weir.store.records import OwnerRecord
from weir.store.store import Store

log = logging.getLogger("weir.scheduler")


def new_owner(kind: str, clock: Clock) -> OwnerRecord:
    """A record for this process as an owner of ``kind`` (``scheduler``, ``run``, ``backfill``)."""
    now = clock.now()
    host = socket.gethostname()
    return OwnerRecord(
        id=f"{host}:{os.getpid()}:{uuid.uuid4().hex[:8]}",
        host=host,
        pid=os.getpid(),
        kind=kind,
        started_at=now,
        heartbeat_at=now,
    )


class LeaseKeeper:
    """Registers this owner and renews its lease from a thread of its own, every third of the
    lease, so a long step (or an inline task holding the loop) never lets it lapse."""

    def __init__(self, store: Store, owner: OwnerRecord, lease: float, clock: Clock) -> None:
        self.store = store
        self.owner = owner
        self.lease = lease
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Record the owner with a fresh lease (before it claims anything), then keep renewing."""
        if self._thread is not None:
            return
        with self.store.transaction() as tx:
            owners.register(tx, self.owner)
            owners.renew(tx, self.owner.id, self.clock.now(), self.lease)
        self._thread = threading.Thread(target=self._run, name="weir-lease", daemon=True)
        self._thread.start()

    def renew(self) -> None:
        """Renew now."""
        with self.store.transaction() as tx:
            owners.renew(tx, self.owner.id, self.clock.now(), self.lease)

    def _run(self) -> None:
        while not self._stop.wait(self.lease / 3):
            try:
                self.renew()
            except Exception as exc:  # the store is away: try again next time; the lease may lapse
                log.warning("could not renew the lease of %s: %s", self.owner.id, exc)

    def stop(self, *, expire: bool = True) -> None:
        """Stop renewing; ``expire`` ends the lease now (a clean exit frees the runs at once)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
            if expire:
                with contextlib.suppress(Exception), self.store.transaction() as tx:
                    owners.expire(tx, [self.owner.id], self.clock.now())
