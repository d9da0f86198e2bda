"""The flow files of a project: every ``.py`` file in its flow folders, and which of them changed.

Only paths, times and hashes: nothing here imports a flow file (the registrar does, in a process
of its own). A file is read again only when its modification time changed, then only registered
again when its content hash did.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path


def python_files(dirs: Iterable[Path]) -> list[Path]:
    """``.py`` files in ``dirs`` (files or folders, searched recursively), sorted, skipping hidden
    and dunder folders and files."""
    found: list[Path] = []
    for entry in dirs:
        entry = Path(entry)
        if entry.is_file() and entry.suffix == ".py":
            found.append(entry.resolve())
        elif entry.is_dir():
            # os.scandir and one resolve() per folder: with 1,000 files, a resolve() per file was
            # most of the scheduler's idle CPU.
            found.extend(_scan(str(entry.resolve())))
    return found


def _scan(folder: str) -> list[Path]:
    found: list[Path] = []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return found
    for entry in entries:
        if entry.name.startswith((".", "__")):
            continue
        if entry.is_dir(follow_symlinks=False):
            found.extend(_scan(entry.path))
        elif entry.name.endswith(".py"):
            found.append(Path(entry.path))
    return found


def digest_of(path: Path) -> str | None:
    """The sha256 hex of the file's bytes (None when it cannot be read)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


@dataclass(slots=True, kw_only=True)
class Changed:
    """Files to register again (new or edited) and files gone since they were registered."""

    changed: list[Path] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.changed or self.gone)


class FlowFiles:
    """Watches the flow files of ``dirs``; remembers modification times between looks."""

    def __init__(self, dirs: Iterable[Path]) -> None:
        self.dirs = tuple(Path(d) for d in dirs)
        self._seen: dict[Path, tuple[int, str | None]] = {}

    def changes(self, registered: Mapping[str, str]) -> Changed:
        """What differs from ``registered`` (path -> digest, as the store holds them).

        Registered paths outside this project's folders are left alone.
        """
        out = Changed()
        present: set[str] = set()
        for path in python_files(self.dirs):
            present.add(str(path))
            try:
                mtime = path.stat().st_mtime_ns
            except OSError:
                continue
            seen = self._seen.get(path)
            digest = seen[1] if seen is not None and seen[0] == mtime else digest_of(path)
            self._seen[path] = (mtime, digest)
            if digest is None or registered.get(str(path)) != digest:
                out.changed.append(path)
        roots = [d.resolve() for d in self.dirs]
        for known in registered:
            if known not in present and any(_under(Path(known), root) for root in roots):
                out.gone.append(known)
        return out


def _under(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)
