"""The file sensor: which files matching a flow's ``on_file`` pattern have settled, so each new
file starts one run, once, on its whole content.

A file settles when its size and modification time have stayed the same for the pattern's
``settle`` seconds (the scheduler's clock). A settled file is known by its content hash: the run's
key is ``file:<flow>:<path>:<hash>``, so the same content never starts a second run (nor after a
restart of the scheduler, which forgets what it watched and waits for the file to settle again),
and a file written again starts another run only when its content changed.
"""

from __future__ import annotations

import glob as globlib
import hashlib
from dataclasses import dataclass
from pathlib import Path

from weir.schedules.events import OnFile

#: Bytes read at a time when hashing a file.
_CHUNK = 1 << 20


@dataclass(slots=True)
class _Seen:
    size: int
    mtime_ns: int
    since: float  # the clock's monotonic time this size and mtime were first seen
    done: bool = False  # hashed and handed out at this size and mtime


@dataclass(frozen=True, slots=True)
class Settled:
    """A file that has stopped changing: its path and the SHA-256 of its content."""

    path: Path
    digest: str


class FileSensor:
    """What one scheduler has seen of the files its flows watch (in memory)."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, Path], _Seen] = {}

    def settled(self, flow: str, watch: OnFile, root: Path, now: float) -> list[Settled]:
        """The files matching ``watch`` (relative to ``root``) that have settled at monotonic time
        ``now`` and were not reported settled at their current size and modification time."""
        pattern = watch.glob if Path(watch.glob).is_absolute() else str(root / watch.glob)
        found: list[Settled] = []
        present: set[Path] = set()
        for match in sorted(globlib.glob(pattern, recursive=True)):
            path = Path(match).resolve()
            try:
                stat = path.stat()
            except OSError:
                continue  # gone meanwhile
            if not path.is_file():
                continue
            present.add(path)
            key = (flow, path)
            seen = self._seen.get(key)
            if seen is None or (seen.size, seen.mtime_ns) != (stat.st_size, stat.st_mtime_ns):
                self._seen[key] = seen = _Seen(stat.st_size, stat.st_mtime_ns, now)
            if seen.done or now - seen.since < watch.settle:
                continue
            try:
                digest = _digest(path)
            except OSError:
                continue  # unreadable now: looked at again at the next watch
            seen.done = True
            found.append(Settled(path=path, digest=digest))
        for key in [k for k in self._seen if k[0] == flow and k[1] not in present]:
            del self._seen[key]  # gone: a file of that name later is new
        return found

    def pending(self) -> bool:
        """Whether a file is waiting to settle (the scheduler should look again soon)."""
        return any(not seen.done for seen in self._seen.values())


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            sha.update(chunk)
    return sha.hexdigest()
