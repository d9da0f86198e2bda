"""Reading try logs safely: only files under the log root, by byte offset, never splitting a character."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: The most bytes one request returns.
MAX_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Chunk:
    offset: int
    next_offset: int
    size: int
    text: str


def safe_log_path(log_root: Path, log_path: str | None) -> Path | None:
    """``log_path`` resolved (symlinks followed) if it lies under ``log_root``; else None.

    Whatever the store or the request says, nothing outside the log root is ever read.
    """
    if not log_path or "\x00" in log_path:
        return None
    root = log_root.resolve()
    path = Path(log_path)
    if not path.is_absolute():
        path = root / path
    try:
        path = path.resolve()
    except (OSError, RuntimeError):
        return None
    if not path.is_relative_to(root) or path == root:
        return None
    return path


def complete_utf8(data: bytes) -> int:
    """How many leading bytes of ``data`` hold whole UTF-8 characters (a cut one is left for later)."""
    end = len(data)
    for back in range(1, min(4, end) + 1):
        byte = data[end - back]
        if byte & 0xC0 == 0x80:
            continue  # a continuation byte: look further back for the lead byte
        if byte < 0x80:
            return end
        need = 2 if byte >> 5 == 0b110 else 3 if byte >> 4 == 0b1110 else 4 if byte >> 3 == 0b11110 else 1
        return end if need <= back else end - back
    return end


def read_chunk(path: Path | None, offset: int, limit: int = MAX_CHUNK, *, final: bool = False) -> Chunk:
    """Bytes from ``offset`` (at most ``limit``) of the file at ``path``; an absent file reads as empty.

    A character cut by the end of the chunk is left for the next read, unless the chunk reaches
    the end of a ``final`` file (one nothing writes to any more).
    """
    limit = max(1, min(limit, MAX_CHUNK))
    if path is None:
        return Chunk(offset=offset, next_offset=offset, size=0, text="")
    try:
        with path.open("rb") as f:
            size = f.seek(0, 2)
            start = min(offset, size)
            f.seek(start)
            data = f.read(limit)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
        return Chunk(offset=offset, next_offset=offset, size=0, text="")
    if not (final and start + len(data) >= size):
        data = data[: complete_utf8(data)] or data
    return Chunk(
        offset=start,
        next_offset=start + len(data),
        size=size,
        text=data.decode("utf-8", errors="replace"),
    )
