"""Task results: kept inline when small, put in a result store (a folder or an fsspec URL) when large,
loaded back in workers, and peeked at without importing user code in the CLI and the server."""

from __future__ import annotations

import hashlib
import pickle
import subprocess
import sys
import threading
import uuid
from collections import OrderedDict, defaultdict, deque
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path, PurePosixPath
from typing import Any

import fsspec  # type: ignore[import-untyped, unused-ignore]  # fsspec ships no py.typed
import pytest

from weir.errors import ResultError
from weir.io.results import (
    FsspecResultStore,
    LocalResultStore,
    ResultRef,
    ResultStore,
    check_key,
    load,
    peek,
    read_bytes,
    result_store,
    store,
)


@pytest.fixture
def memory_url() -> Iterator[str]:
    """A ``memory://`` root of this test's own (fsspec's memory filesystem is process-global)."""
    url = f"memory://weir-results-{uuid.uuid4().hex}"
    yield url
    fs, path = fsspec.core.url_to_fs(url)
    if fs.exists(path):
        fs.rm(path, recursive=True)


@pytest.fixture(params=["local", "memory"])
def results(request: pytest.FixtureRequest, tmp_path: Path, memory_url: str) -> ResultStore:
    """The result store on a local folder, then on ``memory://``."""
    return result_store(str(tmp_path / "results") if request.param == "local" else memory_url)


class Point:
    """A class of the test module: peek must not rebuild it."""

    def __init__(self, x: int) -> None:
        self.x = x


def test_a_small_result_is_kept_inline_and_nothing_goes_to_the_store(tmp_path: Path) -> None:
    results = result_store(str(tmp_path / "results"))
    ref = store({"rows": 3}, what="task 'count'", inline_max=1000, results=results, key="1/count.pkl")
    assert ref.data is not None
    assert ref.url is None
    assert ref.size == len(ref.data)
    assert not (tmp_path / "results").exists()
    assert load(ref) == {"rows": 3}


def test_a_large_result_goes_to_the_store_and_comes_back(tmp_path: Path) -> None:
    results = result_store(str(tmp_path / "results"))
    value = list(range(1000))
    ref = store(value, what="task 'big'", inline_max=100, results=results, key="7/big/try-1.pkl")
    path = tmp_path / "results" / "7" / "big" / "try-1.pkl"
    assert ref.data is None
    assert ref.url == str(path)
    assert path.stat().st_size == ref.size
    assert load(ref) == value


def test_a_result_of_exactly_inline_max_bytes_stays_inline(tmp_path: Path) -> None:
    size = len(pickle.dumps("x" * 50, protocol=pickle.HIGHEST_PROTOCOL))
    results = result_store(str(tmp_path / "results"))
    at = store("x" * 50, what="t", inline_max=size, results=results, key="a.pkl")
    over = store("x" * 50, what="t", inline_max=size - 1, results=results, key="b.pkl")
    assert (at.data is not None, at.url) == (True, None)
    assert (over.data, over.url) == (None, str(tmp_path / "results" / "b.pkl"))


def test_a_large_result_in_an_fsspec_store_is_kept_under_its_full_url(memory_url: str) -> None:
    results = result_store(memory_url)
    ref = store(b"z" * 5000, what="t", inline_max=10, results=results, key="3/t.pkl")
    assert ref.url == f"{memory_url}/3/t.pkl"
    assert read_bytes(ref.url) == pickle.dumps(b"z" * 5000, protocol=pickle.HIGHEST_PROTOCOL)
    assert load(ref) == b"z" * 5000


def test_a_10_mb_result_round_trips_through_either_store(results: ResultStore) -> None:
    value = bytes(range(256)) * (10 * 1024 * 1024 // 256)
    ref = store(value, what="task 'blob'", inline_max=64 * 1024, results=results, key="9/blob.pkl")
    assert ref.url is not None
    assert ref.size > 10 * 1024 * 1024
    assert results.get(ref.url) == pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    assert load(ref) == value


def test_equal_values_have_equal_digests_of_their_pickled_bytes(results: ResultStore) -> None:
    one = store({"a": [1, 2]}, what="t", inline_max=0, results=results, key="one.pkl")
    two = store({"a": [1, 2]}, what="t", inline_max=1000, results=results, key="two.pkl")
    other = store({"a": [1, 3]}, what="t", inline_max=1000, results=results, key="other.pkl")
    assert one.digest == two.digest == hashlib.sha256(two.data or b"").hexdigest()
    assert other.digest != one.digest
    assert len(one.digest) == 64


def test_a_result_ref_pickles_without_its_live_value() -> None:
    lock = threading.Lock()  # a live value that could never be pickled itself
    ref = ResultRef(data=pickle.dumps(5), size=2, digest="d", value=lock)
    copy = pickle.loads(pickle.dumps(ref))
    assert ref.in_memory
    assert load(ref) is lock
    assert not copy.in_memory
    assert (copy.data, copy.url, copy.size, copy.digest) == (ref.data, None, 2, "d")
    assert load(copy) == 5


def test_a_kept_value_is_returned_as_is_in_the_process_that_made_it(tmp_path: Path) -> None:
    value = {"k": [1]}
    ref = store(
        value, what="t", inline_max=0, results=result_store(str(tmp_path)), key="k.pkl", keep_value=True
    )
    assert load(ref) is value
    assert ref == ResultRef(url=ref.url, size=ref.size, digest=ref.digest)  # the live value is not compared


def test_a_missing_result_object_is_reported_as_missing(results: ResultStore) -> None:
    ref = store("x" * 500, what="t", inline_max=10, results=results, key="gone.pkl")
    assert ref.url is not None
    fs, path = fsspec.core.url_to_fs(ref.url)
    fs.rm(path)
    with pytest.raises(ResultError, match=r"result file .*gone\.pkl is missing"):
        load(ref)
    with pytest.raises(FileNotFoundError):
        results.get(ref.url)


def test_corrupt_result_bytes_cannot_be_loaded() -> None:
    with pytest.raises(ResultError, match="cannot load result: UnpicklingError"):
        load(ResultRef(data=b"not a pickle", size=12))


def test_a_value_neither_pickle_nor_cloudpickle_can_serialise_names_its_task(tmp_path: Path) -> None:
    results = LocalResultStore(tmp_path / "results")
    with pytest.raises(ResultError, match="task 'locked' returned a lock that cannot be pickled"):
        store(threading.Lock(), what="task 'locked'", inline_max=10, results=results, key="l")
    assert not (tmp_path / "results").exists()


def test_a_lambda_is_stored_with_cloudpickle(tmp_path: Path) -> None:
    ref = store(lambda x: x + 1, what="t", inline_max=10, results=result_store(str(tmp_path)), key="f.pkl")
    assert load(ref)(2) == 3


BAD_KEYS = ["../x", "/abs", "a//b", "a\\b", "", "a/", "a/./b", "a/../b", "x\x00y", "a b"]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_a_bad_key_is_refused_before_anything_is_written(
    key: str, tmp_path: Path, results: ResultStore
) -> None:
    with pytest.raises(ValueError, match="bad store key"):
        check_key(key)
    with pytest.raises(ValueError, match="bad store key"):
        results.put(key, b"data")
    assert not (tmp_path / "x").exists()
    assert not Path("/abs").exists()


def test_a_key_of_letters_digits_and_punctuation_is_accepted(tmp_path: Path) -> None:
    key = "run-12/load_rows[3]/try.2.pkl"
    assert check_key(key) == key
    url = result_store(str(tmp_path)).put(key, b"abc")
    assert Path(url).read_bytes() == b"abc"


def test_putting_a_key_again_replaces_it_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    results = LocalResultStore(tmp_path)
    results.put("r/v.pkl", b"first")
    url = results.put("r/v.pkl", b"second")
    assert results.get(url) == b"second"
    assert [p.name for p in (tmp_path / "r").iterdir()] == ["v.pkl"]


def test_a_local_result_reads_from_a_path_or_a_file_url(tmp_path: Path) -> None:
    url = LocalResultStore(tmp_path).put("a.pkl", b"bytes")
    assert read_bytes(url) == b"bytes"
    assert read_bytes(f"file://{url}") == b"bytes"
    assert LocalResultStore(tmp_path).get(f"file://{url}") == b"bytes"


def test_one_store_per_url_chosen_by_its_scheme(tmp_path: Path, memory_url: str) -> None:
    local = result_store(str(tmp_path))
    assert result_store(str(tmp_path)) is local
    assert isinstance(local, LocalResultStore)
    assert local.url == str(tmp_path)
    assert isinstance(result_store(f"file://{tmp_path}"), LocalResultStore)
    assert result_store(f"file://{tmp_path}").url == str(tmp_path)
    assert isinstance(result_store(memory_url), FsspecResultStore)
    assert result_store(memory_url) is result_store(memory_url)


def test_importing_the_result_module_imports_neither_fsspec_nor_cloudpickle() -> None:
    code = (
        "import sys, weir.io.results, weir.io.logs; "
        "print(sorted(m for m in ('fsspec', 'cloudpickle') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_peek_shows_plain_and_standard_library_values(results: ResultStore) -> None:
    value: dict[str, Any] = {
        "when": datetime(2024, 5, 1, 12, tzinfo=UTC),
        "day": date(2024, 5, 1),
        "span": timedelta(hours=2),
        "price": Decimal("9.95"),
        "share": Fraction(1, 3),
        "id": uuid.UUID(int=7),
        "file": Path("/data/out.csv"),
        "pure": PurePosixPath("a/b"),
        "ordered": OrderedDict(a=1),
        "queue": deque([1, 2]),
        "groups": defaultdict(list, {"x": [1]}),
        "misc": (b"raw", bytearray(b"ba"), {1, 2}, frozenset({3}), 1.5, complex(1, 2), None, True, range(3)),
    }
    inline = store(value, what="t", inline_max=10**9, results=results, key="inline.pkl")
    stored = store(value, what="t", inline_max=0, results=results, key="stored.pkl")
    assert peek(inline) == (True, value)
    assert peek(stored) == (True, value)
    assert peek(ResultRef()) == (True, None)


def test_peek_shows_old_protocol_pickles_too() -> None:
    value = {"b": b"\x00\xff", "d": datetime(2020, 1, 1)}
    for protocol in range(0, pickle.HIGHEST_PROTOCOL + 1):
        assert peek(ResultRef(data=pickle.dumps(value, protocol=protocol))) == (True, value)


def test_peek_names_the_class_of_a_value_it_will_not_rebuild() -> None:
    ok, text = peek(ResultRef(data=pickle.dumps(Point(3))))
    assert not ok
    assert text == f"<a {__name__}.Point result: load it with weir.get_run(...) in Python>"


def test_peek_refuses_a_class_without_importing_its_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"weir_peek_probe_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text("class Secret:\n    def __init__(self):\n        self.v = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = __import__(name)
    data = pickle.dumps(module.Secret())
    del sys.modules[name]  # still importable from sys.path: plain pickle would import it again

    ok, text = peek(ResultRef(data=data))

    assert (ok, text) == (False, f"<a {name}.Secret result: load it with weir.get_run(...) in Python>")
    assert name not in sys.modules
    assert load(ResultRef(data=data)).v == 42  # load, by contrast, imports it
    assert name in sys.modules
    del sys.modules[name]


class _Calls:
    """Pickles as a call of ``func(*args)``, as a crafted pickle would."""

    def __init__(self, func: Any, *args: Any) -> None:
        self.func = func
        self.args = args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.func, self.args


def test_peek_never_calls_a_function_a_crafted_pickle_names(tmp_path: Path) -> None:
    target = tmp_path / "made"
    crafted = [
        pickle.dumps(_Calls(eval, f"open({str(target)!r}, 'w')")),
        pickle.dumps(_Calls(exec, f"open({str(target)!r}, 'w')")),
        pickle.dumps(_Calls(getattr, Path, "touch")),
        # A dotted name inside an allowed module: ``pathlib.os.getcwd``.
        b"\x80\x04\x8c\x07pathlib\x8c\tos.getcwd\x93)R.",
    ]
    for data in crafted:
        ok, text = peek(ResultRef(data=data))
        assert not ok
        assert text.startswith("<a builtins.") or text.startswith("<a pathlib.os.getcwd")
    assert not target.exists()


def test_peek_never_sets_attributes_on_an_allowed_class() -> None:
    # Path, then BUILD with slot state {"weir_was_here": True}: would set Path.weir_was_here.
    crafted = b"\x80\x04\x8c\x07pathlib\x8c\x04Path\x93N}\x8c\x0dweir_was_here\x88s\x86b."
    ok, text = peek(ResultRef(data=crafted))
    assert (ok, text) == (False, "<a pathlib.Path result: load it with weir.get_run(...) in Python>")
    assert not hasattr(Path, "weir_was_here")


def test_peek_explains_a_missing_or_corrupt_result_instead_of_raising(tmp_path: Path) -> None:
    missing = peek(ResultRef(url=str(tmp_path / "nothing.pkl"), size=10))
    corrupt = peek(ResultRef(data=b"\x80\x05garbage"))
    assert missing == (False, f"<result file {tmp_path / 'nothing.pkl'} is missing>")
    assert corrupt[0] is False
    assert corrupt[1].startswith("<cannot read result: ")


def test_an_empty_store_url_is_refused_rather_than_meaning_the_current_folder() -> None:
    with pytest.raises(ValueError, match="URL is empty"):
        result_store("")
