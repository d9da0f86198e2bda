"""Task results: serialised with pickle (cloudpickle as a fallback), small ones kept
as bytes for the database, large ones written to a file under the result folder.

This is the one serializer of the project: nothing else is pickled into the store.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from weir.errors import ResultError

_NO_VALUE: Any = object()


@dataclass(frozen=True, slots=True)
class ResultRef:
    """Where a stored result is: ``data`` (pickled bytes) or ``path`` (a file of them).

    ``value`` holds the live object when it was made in this process (the inline executor
    passes values in memory); it is never sent to another process.
    """

    data: bytes | None = None
    path: str | None = None
    size: int = 0
    value: Any = _NO_VALUE

    def __getstate__(self) -> tuple[bytes | None, str | None, int]:
        return (self.data, self.path, self.size)

    def __setstate__(self, state: tuple[bytes | None, str | None, int]) -> None:
        data, path, size = state
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "size", size)
        object.__setattr__(self, "value", _NO_VALUE)

    @property
    def in_memory(self) -> bool:
        return self.value is not _NO_VALUE


def serialize(value: Any, what: str) -> bytes:
    """Pickle ``value``; raises ResultError naming ``what`` when it cannot be pickled."""
    try:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        pass
    try:
        import cloudpickle

        return cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        raise ResultError(
            f"{what} returned a {type(value).__name__} that cannot be pickled ({exc}); "
            "return plain data (numbers, strings, lists, dicts, dataclasses) or write the object "
            "to storage and return its path"
        ) from None


def store(value: Any, *, what: str, inline_max: int, path: Path, keep_value: bool = False) -> ResultRef:
    """Serialise ``value``: bytes when at most ``inline_max`` long, else a file at ``path``."""
    data = serialize(value, what)
    live = value if keep_value else _NO_VALUE
    if len(data) <= inline_max:
        return ResultRef(data=data, size=len(data), value=live)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)  # a reader never sees half a file
    return ResultRef(path=str(path), size=len(data), value=live)


def load(ref: ResultRef) -> Any:
    """The value behind ``ref``. Raises ResultError when its file is gone or unreadable."""
    if ref.in_memory:
        return ref.value
    try:
        if ref.data is not None:
            return pickle.loads(ref.data)
        if ref.path is not None:
            return pickle.loads(Path(ref.path).read_bytes())
    except FileNotFoundError:
        raise ResultError(f"result file {ref.path} is missing") from None
    except Exception as exc:
        raise ResultError(f"cannot load result: {type(exc).__name__}: {exc}") from None
    return None
