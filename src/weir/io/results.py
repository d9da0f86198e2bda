"""Task results: pickled (cloudpickle as a fallback), small ones kept as bytes for the database,
larger ones put in a result store addressed by URL (a local folder, or any fsspec URL).

This is the one serializer of the project: nothing else is pickled into the store. Importing this
module imports neither fsspec nor cloudpickle; each is imported where it is first needed.

:func:`peek` is for processes that must never import user code (the CLI, the server): it
unpickles only plain data and standard-library values, and names the class of anything else.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import pickle
import re
import threading
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

from weir.errors import ResultError

__all__ = [
    "FsspecResultStore",
    "LocalResultStore",
    "ResultRef",
    "ResultStore",
    "check_key",
    "load",
    "local_path",
    "peek",
    "read_bytes",
    "result_store",
    "serialize",
    "store",
]

#: ``ResultRef.value`` when the live object is not at hand (made in another process, or not kept).
_NO_VALUE: Any = object()

_KEY_SEGMENT = re.compile(r"[A-Za-z0-9_.\-\[\]]+")


@dataclass(frozen=True, slots=True, kw_only=True)
class ResultRef:
    """Where a stored result is: ``data`` (pickled bytes, kept in the database) or ``url`` (an
    object in a result store: a plain absolute path for the local store, a full URL for others).

    ``size`` is the length of the pickled bytes and ``digest`` their sha256 (hex; empty for refs
    recorded before digests). ``value`` holds the live object when it was made in this process
    (the inline executor passes values in memory); it is never pickled, so it never reaches
    another process, and it takes no part in comparisons.
    """

    data: bytes | None = None
    url: str | None = None
    size: int = 0
    digest: str = ""
    value: Any = field(default=_NO_VALUE, compare=False, repr=False)

    def __getstate__(self) -> tuple[bytes | None, str | None, int, str]:
        return (self.data, self.url, self.size, self.digest)

    def __setstate__(self, state: tuple[bytes | None, str | None, int, str]) -> None:
        data, url, size, digest = state
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "url", url)
        object.__setattr__(self, "size", size)
        object.__setattr__(self, "digest", digest)
        object.__setattr__(self, "value", _NO_VALUE)

    @property
    def in_memory(self) -> bool:
        """Whether the live object is held here (then :func:`load` returns it as is)."""
        return self.value is not _NO_VALUE


def serialize(value: Any, what: str) -> bytes:
    """Pickle ``value`` (with cloudpickle when plain pickle cannot).

    Args:
        value: what a task or flow returned.
        what: names the producer in the error message (``task 'load'``).

    Raises:
        ResultError: neither pickle nor cloudpickle can serialise ``value``.
    """
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


def check_key(key: str) -> str:
    """``key`` if it is a safe name inside a store, else raise.

    A key is a relative POSIX path whose segments are made of ``A-Z a-z 0-9 _ . - [ ]`` and are
    neither ``.`` nor ``..``: it can never name anything outside the store's root.

    Raises:
        ValueError: ``key`` is empty, absolute, has an empty segment, a backslash, a NUL, a
            ``.``/``..`` segment or another character outside that set.
    """
    segments = key.split("/")
    if not all(_KEY_SEGMENT.fullmatch(s) and s not in (".", "..") for s in segments):
        raise ValueError(
            f"bad store key {key!r}: use a relative path of segments made of letters, digits and _ . - [ ]"
        )
    return key


def local_path(url: str) -> Path | None:
    """The local path a store URL names: a plain path as is, a ``file://`` URL without its
    scheme; None for any other URL (one for fsspec)."""
    if url.startswith("file://"):
        return Path(url.removeprefix("file://"))
    if "://" in url:
        return None
    return Path(url)


class ResultStore(ABC):
    """Where results too large for the database are kept; :func:`result_store` gives one by URL.

    Attributes:
        url: the store's root, as configured.
    """

    url: str

    @abstractmethod
    def put(self, key: str, data: bytes) -> str:
        """Store ``data`` under ``key`` (replacing what was there) and return the object's URL,
        as it is to be kept in the database and given to :meth:`get` or :func:`read_bytes`.

        Raises:
            ValueError: a bad key (see :func:`check_key`).
            OSError: the store cannot be written.
        """

    @abstractmethod
    def get(self, url: str) -> bytes:
        """The bytes of the object at ``url`` (as returned by :meth:`put`).

        Raises:
            FileNotFoundError: there is no such object.
            OSError: the store cannot be read.
        """


class LocalResultStore(ResultStore):
    """Results as files under a local folder; :meth:`put` returns the file's absolute path."""

    def __init__(self, root: Path) -> None:
        self.root = root.absolute()
        self.url = str(self.root)

    def put(self, key: str, data: bytes) -> str:
        """Write ``root/key`` atomically (a reader never sees half a file); see :meth:`ResultStore.put`."""
        path = self.root / check_key(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # A name of its own per writer: two writers of one key never share a temporary file.
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return str(path)

    def get(self, url: str) -> bytes:
        """The bytes of the file at ``url``: a path or a ``file://`` URL; see :meth:`ResultStore.get`."""
        return _read_local(url)


class FsspecResultStore(ResultStore):
    """Results as objects under any fsspec URL (``s3://bucket/results``, ``memory://...``).

    Credentials and options come from fsspec's own configuration (environment, config files).
    """

    def __init__(self, url: str) -> None:
        import fsspec  # type: ignore[import-untyped, unused-ignore]  # fsspec ships no py.typed

        self.url = url.rstrip("/")
        self._fs, self._root = fsspec.core.url_to_fs(self.url)

    def put(self, key: str, data: bytes) -> str:
        """Write ``<url>/<key>`` (one whole object) and return that URL; see :meth:`ResultStore.put`."""
        path = f"{self._root}/{check_key(key)}"
        self._fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        self._fs.pipe_file(path, data)
        return f"{self.url}/{key}"

    def get(self, url: str) -> bytes:
        """The bytes of the object at ``url``; see :meth:`ResultStore.get`."""
        return _read_fsspec(url)


_stores: dict[str, ResultStore] = {}
_stores_lock = threading.Lock()


def result_store(url: str) -> ResultStore:
    """The result store at ``url``: one instance per URL in this process.

    A plain path or a ``file://`` URL gives a :class:`LocalResultStore`, any other URL an
    :class:`FsspecResultStore` (which needs the fsspec implementation for its scheme).

    Raises:
        ValueError: ``url`` is empty (it would silently mean the current folder).
    """
    if not url:
        raise ValueError("the result store URL is empty")
    with _stores_lock:
        found = _stores.get(url)
        if found is None:
            local = local_path(url)
            found = LocalResultStore(local) if local is not None else FsspecResultStore(url)
            _stores[url] = found
        return found


def store(
    value: Any, *, what: str, inline_max: int, results: ResultStore, key: str, keep_value: bool = False
) -> ResultRef:
    """Serialise ``value``: kept as bytes when at most ``inline_max`` long, else put in ``results``.

    Args:
        value: the object to store.
        what: names the producer in errors (``task 'load'``).
        inline_max: the most bytes kept in the database.
        results: the store for larger results.
        key: the object's name in ``results`` (see :func:`check_key`).
        keep_value: keep the live object in the returned ref (for use in this same process).

    Raises:
        ResultError: ``value`` cannot be pickled.
        ValueError: a bad ``key`` (only checked when the store is used).
        OSError: the store cannot be written.
    """
    data = serialize(value, what)
    digest = hashlib.sha256(data).hexdigest()
    live = value if keep_value else _NO_VALUE
    if len(data) <= inline_max:
        return ResultRef(data=data, size=len(data), digest=digest, value=live)
    return ResultRef(url=results.put(key, data), size=len(data), digest=digest, value=live)


def read_bytes(url: str) -> bytes:
    """The bytes at ``url``: a local file for a path or ``file://`` URL, else through fsspec.

    Raises:
        FileNotFoundError: there is nothing at ``url``.
        OSError: it cannot be read.
    """
    if local_path(url) is not None:
        return _read_local(url)
    return _read_fsspec(url)


def load(ref: ResultRef) -> Any:
    """The value behind ``ref``: its live object, its unpickled bytes, or those at its URL.

    Unpickling may import the modules of the value's classes: only workers call this for user
    results (the CLI and the server use :func:`peek`).

    Raises:
        ResultError: the stored object is missing (``"... is missing"``) or cannot be read or
            unpickled.
    """
    if ref.in_memory:
        return ref.value
    data = ref.data
    if data is None and ref.url is not None:
        try:
            data = read_bytes(ref.url)
        except FileNotFoundError:
            raise ResultError(f"result file {ref.url} is missing") from None
        except Exception as exc:
            raise ResultError(f"cannot load result: {type(exc).__name__}: {exc}") from None
    if data is None:
        return None
    try:
        return pickle.loads(data)
    except Exception as exc:
        raise ResultError(f"cannot load result: {type(exc).__name__}: {exc}") from None


#: Modules whose own classes :func:`peek` may rebuild: importing them runs no user code.
_PEEK_MODULES = frozenset(
    {"builtins", "collections", "datetime", "decimal", "fractions", "uuid", "pathlib", "copyreg", "_codecs"}
)
#: The functions (not classes) pickle itself needs to rebuild plain objects and old-protocol bytes.
_PEEK_FUNCTIONS = frozenset(
    {
        ("copyreg", "_reconstructor"),
        ("copyreg", "__newobj__"),
        ("copyreg", "__newobj_ex__"),
        ("_codecs", "encode"),
    }
)


class _Refused(Exception):
    """A pickle names a class :func:`peek` will not rebuild; ``name`` is ``module.qualname``."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class _PeekUnpickler(pickle._Unpickler):
    """An unpickler that rebuilds only classes defined in :data:`_PEEK_MODULES` (and the few
    functions pickle needs); anything else is refused before any import happens.

    Only classes are allowed, never functions such as ``builtins.eval``, and only under their own
    module (``pathlib.os`` or a class a module merely imported is refused), so a crafted pickle
    cannot call anything but constructors of plain standard-library types. Nor can it set
    attributes on one of those classes (``BUILD`` on a class, say making ``Path.is_relative_to``
    always true): that takes replacing one opcode, which only the pure-Python unpickler allows,
    at about a tenth of the C unpickler's speed.
    """

    dispatch = dict(pickle._Unpickler.dispatch)
    stack: list[Any]  # the unpickler's stack, set by load(); undocumented, so not in typeshed

    def find_class(self, module: str, name: str) -> Any:
        if module in _PEEK_MODULES and "." not in name:
            found = getattr(importlib.import_module(module), name, None)
            if (module, name) in _PEEK_FUNCTIONS:
                return found
            if isinstance(found, type) and found.__module__ == module:
                return found
        raise _Refused(f"{module}.{name}")

    def _load_build(self) -> None:
        target = self.stack[-2]  # BUILD: [..., object, state] -> object with state set
        if isinstance(target, type):
            raise _Refused(f"{target.__module__}.{target.__qualname__}")
        pickle._Unpickler.load_build(self)  # type: ignore[attr-defined]  # undocumented, not in typeshed

    dispatch[pickle.BUILD[0]] = _load_build  # type: ignore[assignment]  # typeshed types it for Unpickler


def peek(ref: ResultRef) -> tuple[bool, Any]:
    """The value behind ``ref`` if it is plain data, without importing any user code.

    Returns:
        ``(True, value)`` for plain data and standard-library values; ``(False, text)`` for
        anything else, ``text`` being a short description for display: for a value of a class
        from elsewhere ``"<a mod.Class result: load it with weir.get_run(...) in Python>"``, and
        for a result that cannot be read the reason. Never raises.

    It unpickles with the pure-Python unpickler (see :class:`_PeekUnpickler`), about ten times
    slower than :func:`load`: a caller showing many results may skip large ones by ``ref.size``.
    """
    if ref.in_memory:
        return True, ref.value
    try:
        data = ref.data if ref.data is not None else read_bytes(ref.url) if ref.url is not None else None
    except FileNotFoundError:
        return False, f"<result file {ref.url} is missing>"
    except Exception as exc:
        return False, f"<cannot read result: {type(exc).__name__}: {exc}>"
    if data is None:
        return True, None
    try:
        return True, _PeekUnpickler(BytesIO(data)).load()
    except _Refused as refused:
        return False, f"<a {refused.name} result: load it with weir.get_run(...) in Python>"
    except Exception as exc:
        return False, f"<cannot read result: {type(exc).__name__}: {exc}>"


def _read_local(url: str) -> bytes:
    path = local_path(url)
    if path is None:
        raise ValueError(f"{url!r} is not a local path or file:// URL")
    return path.read_bytes()


def _read_fsspec(url: str) -> bytes:
    import fsspec  # type: ignore[import-untyped, unused-ignore]  # fsspec ships no py.typed

    fs, path = fsspec.core.url_to_fs(url)
    data: bytes = fs.cat_file(path)
    return data
