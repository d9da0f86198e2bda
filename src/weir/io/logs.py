"""Try logs behind a URL: written as the task runs, read by byte offset, never splitting a character.

A log is named by a key (see :func:`weir.io.results.check_key`) inside a log store:

- :class:`LocalLogStore` (a plain path or ``file://``): the log is the file ``root/key``, appended
  line by line, so another process reads each line as soon as it is written.
- :class:`FsspecLogStore` (any other URL): object stores cannot append, so a log is a series of
  numbered part objects under ``<key>.parts/``, read back as one stream of bytes.

A log is created on the first write, so a try that prints and logs nothing costs no file: creating
a file costs 0.1-0.9 ms on the machines measured here, more than the rest of weir's work for a
no-op task. Reading never raises for a missing log (it reads as empty) and never reads outside
the store's root.
"""

from __future__ import annotations

import codecs
import io
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from weir.io.results import check_key, local_path

__all__ = [
    "MAX_CHUNK",
    "PART_SIZE",
    "Chunk",
    "FsspecLogStore",
    "LocalLogStore",
    "LogStore",
    "LogWriter",
    "check_key",
    "complete_utf8",
    "log_store",
]

#: The most bytes one read returns.
MAX_CHUNK = 1024 * 1024

#: An fsspec log writer writes a part once this many bytes are buffered.
PART_SIZE = 64 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Chunk:
    """A piece of a log read from ``offset``: read again from ``next_offset`` for what follows.

    ``size`` is the log's whole length in bytes when it was read (0 for a missing log).
    """

    offset: int
    next_offset: int
    size: int
    text: str


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


def _chunk(data: bytes, start: int, size: int, *, final: bool) -> Chunk:
    """The chunk of ``data`` read at ``start`` from a log of ``size`` bytes.

    A character cut by the end of the chunk is left for the next read, unless the chunk reaches
    the end of a ``final`` log (one nothing writes to any more).
    """
    if not (final and start + len(data) >= size):
        data = data[: complete_utf8(data)] or data
    return Chunk(
        offset=start, next_offset=start + len(data), size=size, text=data.decode("utf-8", errors="replace")
    )


def _empty(offset: int) -> Chunk:
    return Chunk(offset=offset, next_offset=offset, size=0, text="")


def _clamp(limit: int) -> int:
    return max(1, min(limit, MAX_CHUNK))


class LogWriter(io.TextIOBase):
    """One try's log, opened for writing: created on the first write, safe to write from threads.

    A text stream (it can stand in for ``sys.stdout`` and back a ``logging.StreamHandler``) that
    also takes raw bytes (:meth:`write_bytes`). After :meth:`close`, writing raises ValueError as
    for any closed file. Subclasses say where the text goes (:meth:`_append`, :meth:`_flush`,
    :meth:`_close`), always called with the lock held.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._finished = False

    @abstractmethod
    def _append(self, text: str) -> None:
        """Add ``text`` to the log (creating it when needed)."""

    @abstractmethod
    def _flush(self) -> None:
        """Make what was appended readable by others."""

    @abstractmethod
    def _close(self) -> None:
        """Make everything readable and release what is held; the log is not written again."""

    def write(self, text: str) -> int:
        """Append ``text``; returns its length.

        Raises:
            ValueError: the writer is closed.
        """
        with self._lock:
            self._check_open()
            self._append(text)
        return len(text)

    def write_bytes(self, data: bytes) -> None:
        """Append raw output of file descriptors 1 and 2, decoded as UTF-8 (bad bytes become
        U+FFFD); a character split across two calls is joined.

        Raises:
            ValueError: the writer is closed.
        """
        with self._lock:
            self._check_open()
            text = self._decoder.decode(data)
            if text:
                self._append(text)

    def flush(self) -> None:
        """Make what was written readable by other processes (nothing to do before the first write)."""
        with self._lock:
            if not self._finished:
                self._flush()

    def close(self) -> None:
        """Write what is left and close; closing again does nothing."""
        with self._lock:
            if not self._finished:
                # A character still cut at the end will never be completed: write it as U+FFFD.
                tail = self._decoder.decode(b"", final=True)
                if tail:
                    self._append(tail)
                self._finished = True
                self._close()
        super().close()  # IOBase.close() calls flush(), which does nothing once finished

    def isatty(self) -> bool:
        """Never a terminal."""
        return False

    def writable(self) -> bool:
        """Always writable (until closed)."""
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]  # typeshed: a writable attribute; read-only here
        """Always ``utf-8``."""
        return "utf-8"

    def _check_open(self) -> None:
        if self._finished:
            raise ValueError("I/O operation on a closed log")


class LogStore(ABC):
    """Where try logs are kept; :func:`log_store` gives one by URL.

    Attributes:
        url: the store's root, as configured.
    """

    url: str

    @abstractmethod
    def writer(self, key: str) -> LogWriter:
        """A writer appending to the log ``key``; nothing is created before the first write.

        Raises:
            ValueError: a bad key (see :func:`check_key`).
        """

    @abstractmethod
    def read(self, key: str, offset: int = 0, limit: int = MAX_CHUNK, *, final: bool = False) -> Chunk:
        """The bytes of log ``key`` from ``offset``, at most ``limit`` (clamped to 1..MAX_CHUNK).

        A character cut by the end of the chunk is left for the next read, unless the chunk
        reaches the end of a ``final`` log (one nothing writes to any more). An offset past the
        end reads from the end. A missing log, or a key naming anything outside the store, reads
        as empty with ``offset`` unchanged; this never raises for either.
        """

    @abstractmethod
    def size(self, key: str) -> int:
        """The length of log ``key`` in bytes; 0 when it is missing."""


class _LocalLogWriter(LogWriter):
    """Appends to one file, line-buffered: each line is readable by other processes once written."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._path = path
        self._file: TextIO | None = None

    def _open(self) -> TextIO:
        if self._file is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            # Line-buffered: each line is readable by other processes once written. Closed in _close.
            self._file = open(self._path, "a", buffering=1, encoding="utf-8", errors="replace")  # noqa: SIM115
        return self._file

    def _append(self, text: str) -> None:
        self._open().write(text)

    def _flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def fileno(self) -> int:
        """The log file's descriptor (creating the file), for pointing descriptors 1 and 2 at it.

        Raises:
            ValueError: the writer is closed.
        """
        with self._lock:
            self._check_open()
            return self._open().fileno()


class LocalLogStore(LogStore):
    """Logs as files under a local folder: log ``key`` is the file ``root/key``.

    For logs recorded by older versions, :meth:`read` and :meth:`size` also take an absolute
    path, but only one that lies (symlinks followed) under the root.
    """

    def __init__(self, root: Path) -> None:
        self.root = root.absolute()
        self.url = str(self.root)

    def writer(self, key: str) -> LogWriter:
        """See :meth:`LogStore.writer`."""
        return _LocalLogWriter(self.root / check_key(key))

    def read(self, key: str, offset: int = 0, limit: int = MAX_CHUNK, *, final: bool = False) -> Chunk:
        """See :meth:`LogStore.read`."""
        path = self._safe_path(key)
        if path is None:
            return _empty(offset)
        try:
            with path.open("rb") as f:
                size = f.seek(0, 2)
                start = max(0, min(offset, size))
                f.seek(start)
                data = f.read(_clamp(limit))
        except OSError:
            return _empty(offset)
        return _chunk(data, start, size, final=final)

    def size(self, key: str) -> int:
        """See :meth:`LogStore.size`."""
        path = self._safe_path(key)
        try:
            return path.stat().st_size if path is not None and path.is_file() else 0
        except OSError:
            return 0

    def _safe_path(self, key: str) -> Path | None:
        """``key`` (or an old absolute path) resolved, symlinks followed, if it lies under the
        root; else None. Whatever the database or a request says, nothing outside is read."""
        if not key or "\x00" in key:
            return None
        try:
            root = self.root.resolve()
            path = (root / key).resolve()  # an absolute ``key`` replaces the root
        except (OSError, RuntimeError):
            return None
        if not path.is_relative_to(root) or path == root:
            return None
        return path


class _FsspecLogWriter(LogWriter):
    """Writes numbered part objects (``000001``, ``000002``, ...) under one folder.

    Text is buffered and a part written when :data:`PART_SIZE` bytes are buffered, on every
    :meth:`flush` that has something buffered, and on :meth:`close`. A ``logging`` handler
    flushes after each record, so each record can cost an object: simple, and what is written
    is readable soon, at the price of more objects for chatty tasks. A writer for a log that has
    parts already continues after the last one, as a local log is appended to.
    """

    def __init__(self, fs: Any, folder: str) -> None:
        super().__init__()
        self._fs = fs
        self._folder = folder
        self._buffer = bytearray()
        self._next_part = 0  # 0: not known yet (nothing written so far)

    def _append(self, text: str) -> None:
        self._buffer += text.encode("utf-8", errors="replace")
        if len(self._buffer) >= PART_SIZE:
            self._write_part()

    def _flush(self) -> None:
        if self._buffer:
            self._write_part()

    def _close(self) -> None:
        if self._buffer:
            self._write_part()

    def _write_part(self) -> None:
        if not self._next_part:
            self._fs.makedirs(self._folder, exist_ok=True)
            self._next_part = 1 + max((n for n, _, _ in _parts(self._fs, self._folder)), default=0)
        self._fs.pipe_file(f"{self._folder}/{self._next_part:06d}", bytes(self._buffer))
        self._next_part += 1
        self._buffer.clear()


def _parts(fs: Any, folder: str) -> list[tuple[int, str, int]]:
    """The parts under ``folder`` in order, as ``(number, path, size)``; none when it is missing."""
    fs.invalidate_cache(folder)  # a cached listing would hide parts written by other processes
    try:
        entries = fs.ls(folder, detail=True)
    except (FileNotFoundError, NotADirectoryError):
        return []
    parts = []
    for entry in entries:
        name = str(entry["name"]).rstrip("/").rsplit("/", 1)[-1]
        if entry.get("type") == "file" and name.isdigit():
            parts.append((int(name), str(entry["name"]), int(entry["size"])))
    return sorted(parts)


class FsspecLogStore(LogStore):
    """Logs under any fsspec URL: log ``key`` is the parts under ``<url>/<key>.parts/``.

    What a writer has flushed (or closed) is readable by any process; see :class:`LogStore`.
    Credentials and options come from fsspec's own configuration (environment, config files).
    """

    def __init__(self, url: str) -> None:
        import fsspec  # type: ignore[import-untyped, unused-ignore]  # fsspec ships no py.typed

        self.url = url.rstrip("/")
        self._fs, self._root = fsspec.core.url_to_fs(self.url)

    def writer(self, key: str) -> LogWriter:
        """See :meth:`LogStore.writer`."""
        return _FsspecLogWriter(self._fs, self._folder(check_key(key)))

    def read(self, key: str, offset: int = 0, limit: int = MAX_CHUNK, *, final: bool = False) -> Chunk:
        """See :meth:`LogStore.read`. Only the parts overlapping the range read are fetched."""
        try:
            parts = _parts(self._fs, self._folder(check_key(key)))
            if not parts:
                return _empty(offset)
            size = sum(part_size for _, _, part_size in parts)
            start = max(0, min(offset, size))
            end = min(start + _clamp(limit), size)
            pieces = []
            at = 0  # where the current part begins in the log
            for _, path, part_size in parts:
                if at < end and start < at + part_size:
                    pieces.append(
                        self._fs.cat_file(path, start=max(start - at, 0), end=min(end - at, part_size))
                    )
                at += part_size
        except (ValueError, OSError):
            return _empty(offset)
        return _chunk(b"".join(pieces), start, size, final=final)

    def size(self, key: str) -> int:
        """See :meth:`LogStore.size`."""
        try:
            return sum(part_size for _, _, part_size in _parts(self._fs, self._folder(check_key(key))))
        except (ValueError, OSError):
            return 0

    def _folder(self, key: str) -> str:
        return f"{self._root}/{key}.parts"


_stores: dict[str, LogStore] = {}
_stores_lock = threading.Lock()


def log_store(url: str) -> LogStore:
    """The log store at ``url``: one instance per URL in this process.

    A plain path or a ``file://`` URL gives a :class:`LocalLogStore`, any other URL an
    :class:`FsspecLogStore` (which needs the fsspec implementation for its scheme).

    Raises:
        ValueError: ``url`` is empty (it would silently mean the current folder).
    """
    if not url:
        raise ValueError("the log store URL is empty")
    with _stores_lock:
        found = _stores.get(url)
        if found is None:
            local = local_path(url)
            found = LocalLogStore(local) if local is not None else FsspecLogStore(url)
            _stores[url] = found
        return found
