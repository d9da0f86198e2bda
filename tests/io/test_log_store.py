"""Try logs in a log store (a folder, or parts under an fsspec URL): written lazily as the task runs,
read by byte offset by another reader, never splitting a character, never outside the store."""

from __future__ import annotations

import io
import logging
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec  # type: ignore[import-untyped, unused-ignore]  # fsspec ships no py.typed
import pytest

from weir.io.logs import (
    MAX_CHUNK,
    PART_SIZE,
    FsspecLogStore,
    LocalLogStore,
    LogStore,
    log_store,
)


@pytest.fixture
def memory_url() -> Iterator[str]:
    """A ``memory://`` root of this test's own (fsspec's memory filesystem is process-global)."""
    url = f"memory://weir-logs-{uuid.uuid4().hex}"
    yield url
    fs, path = fsspec.core.url_to_fs(url)
    if fs.exists(path):
        fs.rm(path, recursive=True)


@pytest.fixture(params=["local", "memory"])
def logs(request: pytest.FixtureRequest, tmp_path: Path, memory_url: str) -> LogStore:
    """The log store on a local folder, then on ``memory://``."""
    return log_store(str(tmp_path / "logs") if request.param == "local" else memory_url)


def _parts(url: str, key: str) -> list[tuple[str, int]]:
    """The part objects of an fsspec log, as (name, size)."""
    fs, root = fsspec.core.url_to_fs(f"{url}/{key}.parts")
    if not fs.exists(root):
        return []
    return sorted((e["name"].rsplit("/", 1)[-1], e["size"]) for e in fs.ls(root, detail=True))


def _read_all(logs: LogStore, key: str, limit: int) -> tuple[str, list[int]]:
    """The whole log read ``limit`` bytes at a time: its text and the offsets read from."""
    text, offsets, offset = "", [], 0
    while True:
        chunk = logs.read(key, offset, limit)
        assert chunk.offset == offset
        offsets.append(offset)
        text += chunk.text
        if chunk.next_offset == offset:
            return text, offsets
        offset = chunk.next_offset


def test_a_try_that_writes_nothing_leaves_no_file(tmp_path: Path) -> None:
    logs = LocalLogStore(tmp_path / "logs")
    writer = logs.writer("1/quiet/try-1.log")
    writer.flush()
    writer.close()
    assert not (tmp_path / "logs").exists()
    chunk = logs.read("1/quiet/try-1.log", 7)
    assert (chunk.offset, chunk.next_offset, chunk.size, chunk.text) == (7, 7, 0, "")
    assert logs.size("1/quiet/try-1.log") == 0


def test_a_try_that_writes_nothing_leaves_no_part(memory_url: str) -> None:
    logs = log_store(memory_url)
    writer = logs.writer("1/quiet/try-1.log")
    writer.flush()
    writer.close()
    assert _parts(memory_url, "1/quiet/try-1.log") == []
    chunk = logs.read("1/quiet/try-1.log", 3)
    assert (chunk.offset, chunk.next_offset, chunk.size, chunk.text) == (3, 3, 0, "")
    assert logs.size("1/quiet/try-1.log") == 0


def test_local_lines_are_readable_by_another_reader_while_the_writer_is_open(tmp_path: Path) -> None:
    writer = LocalLogStore(tmp_path).writer("run/t.log")
    reader = LocalLogStore(tmp_path)  # reads the file on its own, as another process would
    writer.write("first line\n")
    assert reader.read("run/t.log").text == "first line\n"
    writer.write("second line\n")
    chunk = reader.read("run/t.log", 11)
    assert (chunk.offset, chunk.next_offset, chunk.size, chunk.text) == (11, 23, 23, "second line\n")
    writer.close()
    assert (tmp_path / "run" / "t.log").read_text() == "first line\nsecond line\n"


def test_fsspec_lines_are_readable_by_another_reader_after_flush(memory_url: str) -> None:
    writer = log_store(memory_url).writer("run/t.log")
    reader = FsspecLogStore(memory_url)  # an instance of its own, as in another process
    writer.write("first line\n")
    assert reader.read("run/t.log").text == ""  # buffered until flushed
    writer.flush()
    assert reader.read("run/t.log").text == "first line\n"
    writer.write("second line\n")
    writer.flush()
    writer.flush()  # nothing buffered: no empty part
    assert reader.read("run/t.log", 11).text == "second line\n"
    assert _parts(memory_url, "run/t.log") == [("000001", 11), ("000002", 12)]
    writer.close()
    assert reader.size("run/t.log") == 23


def test_fsspec_close_writes_what_is_left(memory_url: str) -> None:
    logs = log_store(memory_url)
    writer = logs.writer("t.log")
    writer.write("tail without a newline")
    writer.close()
    assert logs.read("t.log", final=True).text == "tail without a newline"


def test_fsspec_writes_a_part_once_enough_is_buffered(memory_url: str) -> None:
    logs = log_store(memory_url)
    writer = logs.writer("big.log")
    line = "x" * 99 + "\n"
    for _ in range(PART_SIZE // len(line) + 1):
        writer.write(line)
    parts = _parts(memory_url, "big.log")
    assert len(parts) == 1
    assert parts[0][1] >= PART_SIZE
    assert logs.read("big.log", 0, 100).text == line
    writer.close()


def test_offsets_continue_across_several_reads(logs: LogStore) -> None:
    writer = logs.writer("r/t.log")
    text = "".join(f"line {n}\n" for n in range(50))
    writer.write(text)
    writer.close()
    read, offsets = _read_all(logs, "r/t.log", limit=7)
    assert read == text
    assert offsets == list(range(0, len(text) + 1, 7)) + ([len(text)] if len(text) % 7 else [])
    assert logs.size("r/t.log") == len(text)


def test_offsets_continue_across_part_boundaries(memory_url: str) -> None:
    logs = log_store(memory_url)
    writer = logs.writer("p.log")
    for piece in ("aaa", "bbbb", "cc"):
        writer.write(piece)
        writer.flush()
    writer.close()
    assert _parts(memory_url, "p.log") == [("000001", 3), ("000002", 4), ("000003", 2)]
    middle = logs.read("p.log", 2, 6)
    assert (middle.offset, middle.next_offset, middle.size, middle.text) == (2, 8, 9, "abbbbc")
    assert logs.read("p.log", 3, 4).text == "bbbb"
    assert logs.read("p.log", 8).text == "c"
    for limit in (1, 2, 3, 4, 5, 100):
        assert _read_all(logs, "p.log", limit)[0] == "aaabbbbcc"


def test_a_character_split_across_two_raw_writes_comes_out_whole(logs: LogStore) -> None:
    writer = logs.writer("u.log")
    writer.write_bytes(b"caf\xc3")
    writer.write_bytes(b"\xa9 \xe2\x82")
    writer.write_bytes(b"\xac\n")
    writer.close()
    assert logs.read("u.log", final=True).text == "café €\n"


def test_a_character_cut_at_the_end_of_a_raw_write_is_replaced_on_close(logs: LogStore) -> None:
    writer = logs.writer("cut.log")
    writer.write_bytes(b"ok\xe2\x82")
    writer.close()
    assert logs.read("cut.log", final=True).text == "ok\ufffd"


def test_a_character_cut_by_the_end_of_a_chunk_is_held_back(logs: LogStore) -> None:
    writer = logs.writer("e.log")
    writer.write("a€b")  # € is three bytes: e2 82 ac
    writer.close()
    first = logs.read("e.log", 0, 2)
    assert (first.text, first.next_offset) == ("a", 1)
    second = logs.read("e.log", first.next_offset, 4)
    assert (second.text, second.next_offset) == ("€b", 5)


def test_a_cut_character_at_the_end_of_a_final_log_is_returned(tmp_path: Path) -> None:
    (tmp_path / "killed.log").write_bytes(b"ab\xe2\x82")  # a writer killed mid-character
    logs = LocalLogStore(tmp_path)
    running = logs.read("killed.log")
    final = logs.read("killed.log", final=True)
    assert (running.text, running.next_offset) == ("ab", 2)
    assert (final.text, final.next_offset) == ("ab\ufffd", 4)


def test_a_limit_is_clamped_and_an_offset_past_the_end_reads_from_the_end(logs: LogStore) -> None:
    writer = logs.writer("c.log")
    writer.write("hello")
    writer.close()
    assert logs.read("c.log", 0, 0).text == "h"
    assert logs.read("c.log", 0, MAX_CHUNK * 10).text == "hello"
    past = logs.read("c.log", 99)
    assert (past.offset, past.next_offset, past.size, past.text) == (5, 5, 5, "")


def test_a_second_writer_of_a_log_appends_to_it(logs: LogStore) -> None:
    for text in ("one\n", "two\n"):
        writer = logs.writer("again.log")
        writer.write(text)
        writer.close()
    assert logs.read("again.log").text == "one\ntwo\n"


def test_lines_written_from_many_threads_arrive_whole(logs: LogStore) -> None:
    writer = logs.writer("threads.log")

    def chatter(n: int) -> None:
        for i in range(200):
            writer.write(f"thread {n} line {i}\n")

    threads = [threading.Thread(target=chatter, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()
    text, _ = _read_all(logs, "threads.log", limit=MAX_CHUNK)
    assert sorted(text.splitlines()) == sorted(f"thread {n} line {i}" for n in range(8) for i in range(200))


def test_a_logging_handler_writes_into_the_log(logs: LogStore) -> None:
    writer = logs.writer("logging.log")
    logger = logging.getLogger(f"weir.test.{uuid.uuid4().hex}")
    handler = logging.StreamHandler(writer)
    logger.addHandler(handler)
    try:
        logger.warning("careful: %s", "ice")
        assert logs.read("logging.log").text == "careful: ice\n"  # the handler flushes each record
    finally:
        logger.removeHandler(handler)
        writer.close()


def test_closing_twice_is_harmless_and_writing_after_close_is_refused(logs: LogStore) -> None:
    writer = logs.writer("closed.log")
    writer.write("x\n")
    writer.close()
    writer.close()
    assert writer.closed
    with pytest.raises(ValueError, match="closed"):
        writer.write("late\n")
    with pytest.raises(ValueError, match="closed"):
        writer.write_bytes(b"late\n")
    assert logs.read("closed.log").text == "x\n"


def test_a_writer_is_a_utf8_text_stream_that_is_no_terminal(logs: LogStore) -> None:
    writer = logs.writer("s.log")
    assert (writer.encoding, writer.isatty(), writer.writable()) == ("utf-8", False, True)
    assert writer.write("héllo") == 5
    writer.close()


def test_a_local_writer_has_a_file_descriptor_for_child_output(tmp_path: Path) -> None:
    logs = LocalLogStore(tmp_path)
    writer = logs.writer("fd.log")
    os.write(writer.fileno(), b"from a descriptor\n")
    writer.write("from python\n")
    writer.close()
    assert logs.read("fd.log").text == "from a descriptor\nfrom python\n"


def test_an_fsspec_writer_has_no_file_descriptor(memory_url: str) -> None:
    writer = log_store(memory_url).writer("fd.log")
    with pytest.raises(io.UnsupportedOperation):
        writer.fileno()
    writer.close()


@pytest.mark.parametrize("key", ["../x.log", "/abs.log", "a//b.log", "a\\b.log"])
def test_a_writer_for_a_bad_key_is_refused(key: str, logs: LogStore) -> None:
    with pytest.raises(ValueError, match="bad store key"):
        logs.writer(key)


def test_an_fsspec_log_with_a_bad_key_reads_as_empty(memory_url: str) -> None:
    chunk = log_store(memory_url).read("../escape.log", 4)
    assert (chunk.offset, chunk.next_offset, chunk.size, chunk.text) == (4, 4, 0, "")


def test_a_local_log_recorded_as_an_absolute_path_under_the_root_is_read(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    (root / "old").mkdir(parents=True)
    (root / "old" / "try.log").write_text("from an older weir\n")
    logs = LocalLogStore(root)
    assert logs.read(str(root / "old" / "try.log")).text == "from an older weir\n"
    assert logs.size(str(root / "old" / "try.log")) == 19


def test_nothing_outside_the_local_root_is_read(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    root.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("do not show\n")
    (root / "link.log").symlink_to(secret)
    (root / "linked-dir").symlink_to(tmp_path)
    logs = LocalLogStore(root)
    for key in ("../secret.txt", str(secret), "link.log", "linked-dir/secret.txt", "/etc/passwd", "", "."):
        chunk = logs.read(key, 0)
        assert (chunk.next_offset, chunk.size, chunk.text) == (0, 0, ""), key
        assert logs.size(key) == 0, key
    assert logs.read("a\x00b").text == ""


def test_one_log_store_per_url_chosen_by_its_scheme(tmp_path: Path, memory_url: str) -> None:
    local = log_store(str(tmp_path))
    assert log_store(str(tmp_path)) is local
    assert isinstance(local, LocalLogStore)
    assert isinstance(log_store(f"file://{tmp_path}"), LocalLogStore)
    assert log_store(f"file://{tmp_path}").url == str(tmp_path)
    assert isinstance(log_store(memory_url), FsspecLogStore)
    assert log_store(memory_url) is log_store(memory_url)


def test_an_empty_store_url_is_refused_rather_than_meaning_the_current_folder() -> None:
    with pytest.raises(ValueError, match="URL is empty"):
        log_store("")
