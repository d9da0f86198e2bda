"""The message of a ``MemoryError`` in a try: what was asked for, the memory limits that apply to
the process (``RLIMIT_AS``, ``RLIMIT_DATA``, the cgroup's), and what it was using."""

from __future__ import annotations

import os
import re
import resource
from collections.abc import Iterable


def memory_error_text(exc: MemoryError) -> str:
    """The error text of a try that ran out of memory: the error, what was asked for when the
    message says, the memory limits that apply to this process, and what it was using."""
    message = str(exc)
    head = f"{type(exc).__name__}: {message or 'could not allocate memory'}"
    notes: list[str] = []
    try:
        asked = _asked(message)
        if asked:
            notes.append(f"asked for {asked}")
        limits = memory_limits()
        if limits:
            notes.append("memory limits: " + ", ".join(f"{name} {_size(value)}" for name, value in limits))
        else:
            notes.append("no memory limit is set (RLIMIT_AS, RLIMIT_DATA and the cgroup's are unlimited)")
        used = _memory_in_use()
        if used:
            notes.append("in use: " + ", ".join(f"{_size(value)} {what}" for what, value in used))
    except Exception:  # short of memory even for this: say what was found
        pass
    return f"{head} ({'; '.join(notes)})" if notes else head


def memory_limits() -> list[tuple[str, int]]:
    """The memory limits of this process that are set: soft RLIMIT_AS and RLIMIT_DATA, and the
    cgroup's (the smallest along its path), as ``(name, bytes)``."""
    found: list[tuple[str, int]] = []
    for name in ("RLIMIT_AS", "RLIMIT_DATA"):
        number = getattr(resource, name, None)
        if number is not None:
            soft = resource.getrlimit(number)[0]
            if soft != resource.RLIM_INFINITY:
                found.append((name, soft))
    cgroup = cgroup_memory_limit()
    if cgroup is not None:
        found.append(cgroup)
    return found


def cgroup_memory_limit(
    cgroup_file: str = "/proc/self/cgroup", mount: str = "/sys/fs/cgroup"
) -> tuple[str, int] | None:
    """The smallest memory limit along this process's cgroup path, as ``(what, bytes)``, when
    one is set and readable: v2 ``memory.max`` (under ``mount`` or ``mount/unified``) or v1
    ``memory.limit_in_bytes`` (under ``mount/memory``). A container sees its own cgroup as the
    root of the mount, so the path's folders are tried from the deepest up to the mount."""
    try:
        with open(cgroup_file, encoding="utf-8") as file:
            lines = file.read().splitlines()
    except OSError:
        return None
    best: tuple[str, int] | None = None
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":
            roots: Iterable[str] = (mount, os.path.join(mount, "unified"))
            filename = "memory.max"
        elif "memory" in controllers.split(","):
            roots, filename = (os.path.join(mount, "memory"),), "memory.limit_in_bytes"
        else:
            continue
        for root in roots:
            for folder in _ancestors(root, path):
                value = _read_limit(os.path.join(folder, filename))
                if value is not None and (best is None or value < best[1]):
                    best = (f"cgroup {filename}", value)
    return best


def _ancestors(root: str, path: str) -> list[str]:
    parts = [p for p in path.split("/") if p]
    return [os.path.join(root, *parts[:n]) for n in range(len(parts), -1, -1)]


def _read_limit(path: str) -> int | None:
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read().strip()
    except OSError:
        return None
    if not text.isdigit():
        return None  # "max": no limit
    value = int(text)
    return value if value < 2**62 else None  # cgroup v1 writes "no limit" as a huge number


_SIZE = re.compile(r"(\d+(?:\.\d*)?)\s*(bytes|[KMGTPE]i?B|B)\b")


def _asked(message: str) -> str | None:
    """The size an out-of-memory message names (numpy: "Unable to allocate 7.45 GiB ...")."""
    match = _SIZE.search(message)
    if match is None:
        return None
    number = match.group(1).rstrip(".")
    return f"{number} {match.group(2)}"


def _memory_in_use() -> list[tuple[str, int]]:
    try:
        with open("/proc/self/status", encoding="utf-8") as file:
            lines = file.read().splitlines()
    except OSError:
        return []
    found: list[tuple[str, int]] = []
    for line in lines:
        key, _, value = line.partition(":")
        what = {"VmSize": "address space", "VmRSS": "resident"}.get(key)
        if what and value.strip().endswith("kB"):
            found.append((what, int(value.split()[0]) * 1024))
    return found


def _size(value: int) -> str:
    if value < 1024:
        return f"{value} bytes"
    scaled = float(value)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        scaled /= 1024
        if scaled < 1024 or unit == "TiB":
            break
    return f"{scaled:.2f}".rstrip("0").rstrip(".") + f" {unit}"
