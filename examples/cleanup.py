"""cleanup: a task that fails, and a cleanup task that runs anyway.

Shows: ``retries`` and ``retry_delay`` (``load`` is tried twice), ``trigger="all_done"``
(``remove_scratch`` runs once its upstream tasks have finished, whatever their state), and a task
downstream of a failure ending ``upstream_failed``. The run ends ``failed`` even though
``remove_scratch`` succeeded: in weir a run fails when any of its task runs fails or is
upstream_failed (not only its last tasks, as in Airflow).

Pass ``-p outage=false`` to see the same flow succeed.

Run it:

    weir run examples/cleanup.py:cleanup
    python examples/cleanup.py
"""

import shutil
import tempfile
from pathlib import Path

import weir


@weir.task
def stage() -> str:
    """Write a batch to a scratch folder and return the folder."""
    folder = Path(tempfile.mkdtemp(prefix="weir-cleanup-"))
    (folder / "batch.csv").write_text("id,amount\n1,9.50\n2,12.00\n", encoding="utf-8")
    return str(folder)


@weir.task(retries=1, retry_delay=0.1)
def load(folder: str, outage: bool) -> int:
    """Load the batch into the warehouse (which is down when ``outage`` is set)."""
    if outage:
        raise ConnectionError("warehouse unreachable: connection refused")
    return len((Path(folder) / "batch.csv").read_text(encoding="utf-8").splitlines()) - 1


@weir.task
def publish(rows: int) -> str:
    """Announce the new rows; never runs when ``load`` failed."""
    return f"published {rows} rows"


@weir.task(trigger="all_done")
def remove_scratch(folder: str) -> str:
    """Remove the scratch folder, whether the load worked or not."""
    shutil.rmtree(folder, ignore_errors=True)
    weir.context().log.info("removed %s", folder)
    return folder


@weir.flow
def cleanup(outage: bool = True) -> str:
    """Stage, load and publish a batch; always remove the scratch folder."""
    folder = stage()
    rows = load(folder, outage)
    done = publish(rows)
    [rows, done] >> remove_scratch(folder)
    return done


if __name__ == "__main__":
    run = cleanup.run()
    states = {t.task_id: t.state for t in run.task_runs}
    print(f"run {run.id}: {run.state} ({run.reason}); task states: {states}")
