"""The results a run has so far, by node: what a task's inputs, a cache key and the run's
return value are made of.

A mapped node's value is the list of its elements' results; a node that did not succeed
has no value (its downstream tasks that run anyway receive None).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from weir import results
from weir.graph.model import Graph, Node, ParamValue, TaskOutput, resolve, walk
from weir.results import ResultRef
from weir.settings import Settings
from weir.states import TASK_SUCCESSES
from weir.store.records import TaskRunRecord

TaskKey = tuple[str, int]


class RunValues:
    """Read-only views over a driver's task runs and result references."""

    def __init__(
        self, graph: Graph, task_runs: dict[TaskKey, TaskRunRecord], refs: dict[TaskKey, ResultRef]
    ) -> None:
        self.graph = graph
        self.task_runs = task_runs
        self.refs = refs

    def inputs(self, node: Node) -> dict[str, ResultRef | list[ResultRef]]:
        """The results of ``node``'s data upstream nodes, as a work item carries them."""
        inputs: dict[str, ResultRef | list[ResultRef]] = {}
        for up in node.data_upstream:
            if self.graph.nodes[up].mapped:
                parent = self.task_runs[(up, -1)]
                if parent.state in TASK_SUCCESSES:
                    inputs[up] = [self.refs[(up, i)] for i in range(parent.map_count or 0)]
            elif (up, -1) in self.refs:
                inputs[up] = self.refs[(up, -1)]
        return inputs

    def cache_key(self, node: Node, record: TaskRunRecord, params: dict[str, Any]) -> str:
        """The task's code, its argument template, and the bytes of its inputs and params."""
        parts: list[Any] = [node.task_name, node.code_hash, repr((node.args, node.kwargs, node.map_over))]
        parts.append(record.map_index)
        for up in node.data_upstream:
            if self.graph.nodes[up].mapped:
                count = self.task_runs[(up, -1)].map_count or 0
                parts.extend(_ref_digest(self.refs.get((up, i))) for i in range(count))
            else:
                parts.append(_ref_digest(self.refs.get((up, -1))))
        for marker in walk((node.args, node.kwargs, node.map_over)):
            if isinstance(marker, ParamValue):
                parts.append((marker.name, json.dumps(params.get(marker.name), default=repr, sort_keys=True)))
        return digest(parts)

    def output(
        self, params: dict[str, Any], settings: Settings, run_id: int
    ) -> tuple[bytes | None, str | None]:
        """The run's return value, stored: a task's own stored result when the flow returns
        one task's result, else the resolved structure, serialised."""
        output = self.graph.output
        if isinstance(output, TaskOutput) and not self.graph.nodes[output.task_id].mapped:
            ref = self.refs.get((output.task_id, -1))
            if ref is not None:
                return ref.data, ref.path

        def value_of(marker: Any) -> Any:
            if isinstance(marker, ParamValue):
                return params.get(marker.name)
            node = self.graph.nodes[marker.task_id]
            if node.mapped:
                count = self.task_runs[(node.task_id, -1)].map_count or 0
                return [results.load(self.refs[(node.task_id, i)]) for i in range(count)]
            ref = self.refs.get((node.task_id, -1))
            return None if ref is None else results.load(ref)

        stored = results.store(
            resolve(output, value_of),
            what=f"flow {self.graph.flow_name!r}",
            inline_max=settings.result_inline_max,
            path=settings.results_dir / str(run_id) / "run-result.pkl",
        )
        return stored.data, stored.path


def digest(parts: list[Any]) -> str:
    """A cache key from its parts."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _ref_digest(ref: ResultRef | None) -> str:
    if ref is None:
        return "-"
    if ref.data is not None:
        return hashlib.sha256(ref.data).hexdigest()
    if ref.path is not None:
        try:
            with open(ref.path, "rb") as f:
                return hashlib.file_digest(f, "sha256").hexdigest()
        except OSError:
            return f"missing:{ref.path}"
    return "-"
