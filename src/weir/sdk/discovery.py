"""Finding the flows of a project: every ``.py`` file in its flow folders.

A file that does not import, or that defines a bad flow, is recorded with its error and
never hides the flows of the other files. Files are read again only when they change
(modification time, then content hash), not on every look.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from weir.errors import FlowLoadError, WeirError
from weir.sdk.flow import Flow
from weir.sdk.loader import flows_in, load_file


@dataclass(slots=True)
class FlowFile:
    """One flow file as last read: its flows, or why it could not be read."""

    path: Path
    mtime_ns: int
    digest: str
    flows: list[Flow] = field(default_factory=list)
    error: str | None = None


class Discovery:
    """The flows found in ``dirs`` (files or folders, searched recursively)."""

    def __init__(self, dirs: tuple[Path, ...] | list[Path]) -> None:
        self.dirs = tuple(Path(d) for d in dirs)
        self.files: dict[Path, FlowFile] = {}

    def refresh(self) -> bool:
        """Read new and changed files, forget deleted ones; True when anything changed."""
        seen: set[Path] = set()
        changed = False
        for path in self._paths():
            seen.add(path)
            try:
                mtime = path.stat().st_mtime_ns
            except OSError:
                continue
            known = self.files.get(path)
            if known is not None and known.mtime_ns == mtime:
                continue
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if known is not None and known.digest == digest:
                known.mtime_ns = mtime
                continue
            self.files[path] = self._load(path, mtime, digest)
            changed = True
        for gone in set(self.files) - seen:
            del self.files[gone]
            changed = True
        if changed:
            self._check_duplicates()
        return changed

    @property
    def flows(self) -> dict[str, Flow]:
        """Every valid flow by name."""
        found: dict[str, Flow] = {}
        for file in sorted(self.files.values(), key=lambda f: str(f.path)):
            for flow in file.flows:
                found.setdefault(flow.name, flow)
        return found

    @property
    def errors(self) -> dict[Path, str]:
        """Each file that could not be read, or holds a bad flow, with the message."""
        return {f.path: f.error for f in self.files.values() if f.error}

    def _paths(self) -> list[Path]:
        # os.scandir and one resolve() per folder: with 1,000 files, a resolve() per file was
        # most of the scheduler's idle CPU.
        paths: list[Path] = []
        for entry in self.dirs:
            if entry.is_file() and entry.suffix == ".py":
                paths.append(entry.resolve())
            elif entry.is_dir():
                paths.extend(_python_files(str(entry.resolve())))
        return paths

    def _load(self, path: Path, mtime: int, digest: str) -> FlowFile:
        file = FlowFile(path=path, mtime_ns=mtime, digest=digest)
        try:
            module = load_file(path)
        except WeirError as exc:
            file.error = str(exc)
            return file
        problems = []
        for flow in flows_in(module):
            try:
                flow.graph  # noqa: B018 - a bad flow is found now, not when it first runs
                flow.schedule_spec  # noqa: B018
            except WeirError as exc:
                problems.append(f"flow {flow.name!r}: {exc}")
                continue
            file.flows.append(flow)
        file.error = "; ".join(problems) or None
        return file

    def _check_duplicates(self) -> None:
        owner: dict[str, Path] = {}
        for file in sorted(self.files.values(), key=lambda f: str(f.path)):
            kept = []
            for flow in file.flows:
                first = owner.setdefault(flow.name, file.path)
                if first != file.path:
                    note = f"flow {flow.name!r} is also defined in {first}; this one is ignored"
                    file.error = f"{file.error}; {note}" if file.error else note
                else:
                    kept.append(flow)
            file.flows = kept


def resolve_flow(target: str, dirs: tuple[Path, ...]) -> Flow:
    """The flow named by ``FILE.py:FLOW``, ``FILE.py``, or a flow name found in ``dirs``.

    Raises:
        FlowLoadError: nothing matches; the message lists the flows that do exist.
    """
    from weir.sdk.loader import load_flow

    if ".py" in target:
        return load_flow(target)
    if not dirs:
        raise FlowLoadError(
            f"{target!r} is not FILE.py:FLOW, and there is no project here to look it up in "
            '(a weir.toml with [weir] flows = ["flows/"], or --flows DIR)'
        )
    discovery = Discovery(dirs)
    discovery.refresh()
    flows = discovery.flows
    if target in flows:
        return flows[target]
    broken = [f"{p}: {e}" for p, e in discovery.errors.items()]
    hint = f"; files with errors: {' | '.join(broken)}" if broken else ""
    known = ", ".join(sorted(flows)) or "none"
    raise FlowLoadError(f"no flow named {target!r} in {', '.join(map(str, dirs))} (found: {known}){hint}")


def _python_files(folder: str) -> list[Path]:
    """``.py`` files under ``folder``, sorted, skipping hidden and dunder folders and files."""
    found: list[Path] = []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return found
    for entry in entries:
        if entry.name.startswith((".", "__")):
            continue
        if entry.is_dir(follow_symlinks=False):
            found.extend(_python_files(entry.path))
        elif entry.name.endswith(".py"):
            found.append(Path(entry.path))
    return found
