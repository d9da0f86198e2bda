"""Building work items the way a driver does, and polling an executor for its reports."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from weir.executors.base import CodeSource, Executor, Finished, Report, Storage, TryKey, WorkItem
from weir.graph.snapshot import CodeKind
from weir.io.logs import log_store
from weir.sdk.flow import Flow
from weir.sdk.snapshot import snapshot_of


def code_source(flow: Flow) -> CodeSource:
    """Where a worker finds ``flow``, as a driver says it: its snapshot's code reference and
    version, and the pickled flow when no other process can import it."""
    snapshot = snapshot_of(flow)
    payload = None
    if snapshot.code.kind == CodeKind.PICKLE:
        import cloudpickle

        payload = cloudpickle.dumps(flow)
    return CodeSource(ref=snapshot.code, flow_name=flow.name, version=snapshot.version, payload=payload)


class Items:
    """Builds work items with fresh keys; results and logs go to folders under ``root``."""

    def __init__(self, root: Path, storage: Storage | None = None) -> None:
        self.storage = storage or Storage(results_url=str(root / "results"), logs_url=str(root / "logs"))
        self.count = 0

    def __call__(
        self,
        flow: Flow | CodeSource,
        task_id: str | None = None,
        *,
        params: dict[str, object] | None = None,
        timeout: float | None = None,
        storage: Storage | None = None,
    ) -> WorkItem:
        self.count += 1
        code = flow if isinstance(flow, CodeSource) else code_source(flow)
        if task_id is None:
            assert isinstance(flow, Flow)
            (task_id,) = flow.graph.nodes
        return WorkItem(
            run_id=self.count,
            task_id=task_id,
            map_index=-1,
            try_number=1,
            code=code,
            storage=storage or self.storage,
            params=params or {},
            log_key=f"{self.count}.log",
            result_key=f"{self.count}.pkl",
            timeout=timeout,
        )

    def log(self, item: WorkItem) -> str:
        """The whole log of ``item``'s try, read back through the log store."""
        return log_store(item.storage.logs_url).read(item.log_key, final=True).text


def wait_for(executor: Executor, want: Callable[[Report], bool], within: float = 30.0) -> list[Report]:
    """Poll until a report matches ``want``; every report seen, in order."""
    seen: list[Report] = []
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        batch = executor.poll(0.5)
        seen.extend(batch)
        if any(want(r) for r in batch):
            return seen
        if not batch:
            time.sleep(0.01)  # an inline executor with nothing to do returns at once
    raise AssertionError(f"no matching report within {within} s; saw {seen!r}")


def finished(executor: Executor, key: TryKey, within: float = 30.0) -> Finished:
    """Poll until the try ``key`` has finished; its Finished report."""
    seen = wait_for(executor, lambda r: isinstance(r, Finished) and r.key == key, within)
    return next(r for r in seen if isinstance(r, Finished) and r.key == key)
