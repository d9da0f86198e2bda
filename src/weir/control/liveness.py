"""Whether the owner of a run is alive: its lease says so, and on this host, its process does.

A lease is the truth everywhere: a run may be adopted once its owner's lease has expired. On the
owner's own host, a process that is gone (its pid no longer exists, or is a zombie) cannot renew
anything, so :func:`reap_local` ends its lease at once instead of letting others wait for it to
run out. A process that is only stopped (SIGSTOP) still exists: its lease runs out normally.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from pathlib import Path

from weir.clock import Clock
from weir.store import owners
from weir.store.store import Store

log = logging.getLogger("weir.scheduler")


def process_gone(pid: int) -> bool:
    """Whether no process ``pid`` runs on this host (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    with contextlib.suppress(OSError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2] == "Z"
    return False


def reap_local(store: Store, clock: Clock) -> list[str]:
    """End the leases of owners on this host whose processes are gone; returns their ids."""
    host = socket.gethostname()
    now = clock.now()
    with store.read() as conn:
        dead = [
            o.id
            for o in owners.live(conn, now)
            if o.host == host and o.pid != os.getpid() and process_gone(o.pid)
        ]
    if dead:
        with store.transaction() as tx:
            owners.expire(tx, dead, now)
        log.info("ended the leases of %d owner(s) whose process is gone: %s", len(dead), ", ".join(dead))
    return dead
