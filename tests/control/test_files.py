"""``weir.control.files``: a project's flow files and which of them changed since they were
registered (by content, not by modification time), without importing any of them."""

from __future__ import annotations

import os
from pathlib import Path

from weir.control.files import FlowFiles, digest_of, python_files


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path.resolve()


def registered(*paths: Path) -> dict[str, str]:
    """What the store holds after registering ``paths`` as they are now."""
    return {str(p): digest_of(p) or "" for p in paths}


def test_a_new_file_is_changed(tmp_path: Path) -> None:
    path = write(tmp_path / "flows" / "a.py", "x = 1\n")

    changes = FlowFiles([tmp_path / "flows"]).changes({})

    assert changes.changed == [path] and changes.gone == [] and bool(changes)


def test_a_file_whose_content_changed_is_changed(tmp_path: Path) -> None:
    path = write(tmp_path / "flows" / "a.py", "x = 1\n")
    files = FlowFiles([tmp_path / "flows"])
    known = registered(path)
    assert not files.changes(known)

    write(path, "x = 2\n")

    assert files.changes(known).changed == [path]


def test_a_touched_file_with_the_same_content_is_not_changed(tmp_path: Path) -> None:
    path = write(tmp_path / "flows" / "a.py", "x = 1\n")
    files = FlowFiles([tmp_path / "flows"])
    known = registered(path)
    assert not files.changes(known)

    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))

    assert not files.changes(known)


def test_a_changed_file_is_seen_even_when_its_modification_time_is_kept(tmp_path: Path) -> None:
    path = write(tmp_path / "flows" / "a.py", "x = 1\n")
    known = registered(path)
    stat = path.stat()
    write(path, "x = 2\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    # A watcher that has not looked before reads every file's content.
    assert FlowFiles([tmp_path / "flows"]).changes(known).changed == [path]


def test_a_deleted_file_is_gone_and_files_outside_the_folders_are_left_alone(tmp_path: Path) -> None:
    kept = write(tmp_path / "flows" / "a.py", "x = 1\n")
    deleted = write(tmp_path / "flows" / "sub" / "b.py", "x = 2\n")
    known = {**registered(kept, deleted), "/elsewhere/c.py": "abc"}
    deleted.unlink()

    changes = FlowFiles([tmp_path / "flows"]).changes(known)

    assert changes.changed == [] and changes.gone == [str(deleted)]


def test_hidden_and_dunder_folders_and_files_are_skipped(tmp_path: Path) -> None:
    root = tmp_path / "flows"
    wanted = [write(root / "a.py", ""), write(root / "deep" / "er" / "b.py", "")]
    for skipped in (".hidden/c.py", "__pycache__/d.py", "__init__.py", ".e.py", "notes.txt", "f.pyc"):
        write(root / skipped, "")

    assert python_files([root]) == wanted
    assert FlowFiles([root]).changes({}).changed == wanted


def test_a_file_named_directly_is_watched_and_a_missing_folder_is_empty(tmp_path: Path) -> None:
    single = write(tmp_path / "one.py", "")

    assert python_files([single, tmp_path / "missing"]) == [single]
    assert digest_of(tmp_path / "missing.py") is None
