"""A worker runs the code of the flow file the run was made from, not of another file with the
same text (a re-run after a retry must not write beside some other copy of the flow)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from weir.sdk.loader import load_flow

SOURCE = textwrap.dedent(
    """
    import os

    import weir


    @weir.task
    def touch():
        return os.path.dirname(os.path.abspath(__file__))


    @weir.flow
    def copied():
        return touch()
    """
)


def test_two_copies_of_a_flow_file_each_run_their_own_module(
    store_url: str, one_worker: None, tmp_path: Path
) -> None:
    folders = []
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        path = tmp_path / folder / "flows.py"
        path.write_text(SOURCE, encoding="utf-8")
        run = load_flow(f"{path}:copied").run(executor="local")
        assert run.state == "success"
        folders.append(run.result())
    assert folders == [str(tmp_path / "one"), str(tmp_path / "two")]
