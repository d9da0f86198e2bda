"""Try logs over the API: byte offsets, whole characters, a follow stream, nothing outside the log store."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from weir.io.logs import Chunk, LocalLogStore, complete_utf8


def read_chunk(path: Path, offset: int, limit: int) -> Chunk:
    """A chunk of the log file ``path``, read as the server reads logs: through a log store."""
    return LocalLogStore(path.parent).read(path.name, offset, limit)


def _log_url(run_id: int, task: str = "make", number: int = 1) -> str:
    return f"/api/v1/runs/{run_id}/tasks/{task}/tries/{number}/log"


def test_a_tries_log_is_read_by_byte_offsets(client: Any, run_flow: Callable[..., Any]) -> None:
    run = run_flow("numbers", n=4)
    whole = client.get(_log_url(run.id)).json()
    assert whole["text"] == "making 4 numbers\n"
    assert whole["offset"] == 0 and whole["next_offset"] == whole["size"] == 17
    assert whole["complete"] is True
    part = client.get(_log_url(run.id), params={"offset": 7, "limit": 3}).json()
    assert part["text"] == "4 n" and part["next_offset"] == 10 and part["complete"] is False
    beyond = client.get(_log_url(run.id), params={"offset": 1000}).json()
    assert beyond["text"] == "" and beyond["offset"] == 17


def test_a_mapped_elements_log_is_asked_for_by_map_index(client: Any, run_flow: Callable[..., Any]) -> None:
    run = run_flow("numbers", n=2)
    assert client.get(_log_url(run.id, "square"), params={"map_index": 1}).status_code == 200
    assert client.get(_log_url(run.id, "square"), params={"map_index": 5}).status_code == 404


def test_a_chunk_never_ends_inside_a_character(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes("é€😀".encode())  # 2 + 3 + 4 bytes
    assert complete_utf8("é".encode()[:1]) == 0
    assert complete_utf8("a€".encode()[:3]) == 1
    chunk = read_chunk(path, 0, 4)
    assert chunk.text == "é" and chunk.next_offset == 2
    chunk = read_chunk(path, 2, 100)
    assert chunk.text == "€😀" and chunk.next_offset == 9


def test_following_the_log_of_an_ended_try_streams_it_then_ends(
    client: Any, run_flow: Callable[..., Any]
) -> None:
    run = run_flow("numbers", n=4)
    with client.stream("GET", _log_url(run.id), params={"follow": "true"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        body = "".join(response.iter_text())
    events = [block for block in body.split("\n\n") if block.startswith("event:")]
    assert events[0].startswith("event: log")
    data = json.loads(events[0].split("data: ", 1)[1])
    assert data["text"] == "making 4 numbers\n"
    assert events[-1].startswith("event: end")


def test_log_paths_outside_the_log_root_are_never_served(
    client: Any, run_flow: Callable[..., Any], settings: Any, tmp_path: Path
) -> None:
    from weir.store.store import open_store
    from weir.store.tasks import tries_t

    logs_dir = Path(settings.logs)
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    link = logs_dir / "link.log"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(secret)
    run = run_flow("hello")
    for bad in (str(secret), f"{logs_dir}/../../secret.txt", str(link), "../secret.txt"):
        with open_store(settings.database_url).transaction() as conn:
            conn.execute(tries_t.update().where(tries_t.c.run_id == run.id).values(log_path=bad))
        body = client.get(_log_url(run.id, "hello_task")).json()
        assert body["text"] == "", bad
        assert "secret" not in client.get(f"/runs/{run.id}/tasks/hello_task").text, bad


def test_the_log_store_keeps_to_its_root(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    (root / "1").mkdir(parents=True)
    (root / "1" / "a.log").write_text("inside")
    (tmp_path / "x").write_text("outside")
    logs = LocalLogStore(root)
    assert logs.read(str(root / "1" / "a.log")).text == "inside"  # an old absolute path, under the root
    assert logs.read("1/a.log").text == "inside"
    for bad in ("/etc/passwd", str(root / ".." / "x"), "../x", str(root), "", "a\x00b"):
        assert logs.read(bad).text == "" and logs.size(bad) == 0, bad


def _grow_log(settings: Any, run: Any, task: str, size: int) -> bytes:
    """Make the try's log ``size`` bytes or more (lines with multi-byte characters); its content."""
    from weir.store.store import open_store
    from weir.store.tasks import get_try

    with open_store(settings.database_url).read() as conn:
        key = get_try(conn, run.id, task, -1, 1).log_path
    path = Path(settings.logs) / key
    line = "line with é, € and 😀 " * 3 + "\n"
    with path.open("a", encoding="utf-8") as log:
        log.write(line * (size // len(line.encode()) + 1))
        log.write("the end\n")
    return path.read_bytes()


def test_a_whole_log_downloads_as_an_attachment_however_large(
    client: Any, run_flow: Callable[..., Any], settings: Any
) -> None:
    run = run_flow("hello")
    whole = _grow_log(settings, run, "hello_task", 3 * 1024 * 1024)  # more than one chunk of reading

    response = client.get(_log_url(run.id, "hello_task") + "/download")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert (
        response.headers["content-disposition"] == f'attachment; filename="run-{run.id}-hello_task.try-1.log"'
    )
    assert response.content == whole
    assert response.text.startswith("hello world\n") and response.text.endswith("the end\n")


def test_a_mapped_elements_log_downloads_by_map_index(client: Any, run_flow: Callable[..., Any]) -> None:
    run = run_flow("numbers", n=2)
    response = client.get(_log_url(run.id, "make") + "/download", params={"map_index": -1})
    assert response.status_code == 200 and response.text == "making 2 numbers\n"
    element = client.get(_log_url(run.id, "square") + "/download", params={"map_index": 1})
    assert element.status_code == 404  # it printed nothing
    assert element.json()["detail"] == f"try 1 of task square[1] of run {run.id} wrote no log"


def test_downloading_a_log_that_does_not_exist_is_a_404(client: Any, run_flow: Callable[..., Any]) -> None:
    run = run_flow("numbers", n=2)
    for url in (
        _log_url(999, "make"),
        _log_url(run.id, "nope"),
        _log_url(run.id, "make", number=5),
        _log_url(run.id, "square"),  # the mapped node itself has no try
        _log_url(run.id, "../../etc"),
    ):
        response = client.get(url + "/download")
        assert response.status_code == 404, url
        assert response.headers["content-type"] == "application/json", url
        assert response.json()["error"] == "not_found", url
