"""Walking a run's graph forward: what a finished task run means for the nodes after it, how a
mapped node fans out, and when the run itself is over."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from weir.engine import outcomes
from weir.engine.mapping import map_length
from weir.graph.model import Node, TaskOutput
from weir.graph.triggers import Decision
from weir.states import TASK_TERMINAL, RunState, TaskState
from weir.store.records import TaskRunRecord

if TYPE_CHECKING:
    from weir.engine.run import RunEngine


class Walk:
    """The rules that move one run's graph forward, over the state its :class:`RunEngine` keeps."""

    def __init__(self, run: RunEngine) -> None:
        self.run = run

    def begin(self) -> None:
        """Start the run (or take it up again): everything that can go now goes."""
        now = self.run.clock.now()
        mono = self.run.clock.monotonic()
        if self.run.flow_timeout:
            # Counted from the run's start, so a run taken up again does not get a fresh timeout.
            spent = (now - self.run.started_at).total_seconds() if self.run.started_at else 0.0
            self.run.timers.run_deadline = mono + max(0.0, self.run.flow_timeout - spent)
        if self.run.run_state == RunState.QUEUED:
            self.run.set_run(RunState.RUNNING, started_at=now)
        for record in list(self.run.task_runs.values()):
            state = record.state
            if state == TaskState.PENDING and record.map_index < 0:
                self.consider(self.run.graph.nodes[record.task_id])
            elif state == TaskState.SCHEDULED:
                self.run.queue.push(record.key)
            elif state == TaskState.QUEUED or (state == TaskState.RUNNING and record.map_count is None):
                self.run.interrupted(record, now)
            elif state == TaskState.UP_FOR_RETRY:
                self.run.timers.retry_at(mono, record.key)
        for task_id, left in list(self.run.progress.elements_left.items()):
            if left == 0 and self.run.task_runs[(task_id, -1)].state == TaskState.RUNNING:
                self.finish_mapped(task_id)
        self.maybe_finish()

    def task_done(self, record: TaskRunRecord) -> None:
        if record.map_index >= 0:  # an element of a mapped node
            if self.run.progress.element_done(record.task_id):
                self.finish_mapped(record.task_id)
            return
        self.node_done(record.task_id, TaskState(record.state))

    def finish_mapped(self, task_id: str) -> None:
        parent = self.run.task_runs[(task_id, -1)]
        count = parent.map_count or 0
        final = outcomes.mapped_state([self.run.task_runs[(task_id, i)].state for i in range(count)])
        parent.ended_at = self.run.clock.now()
        self.run.move(parent, final)
        self.node_done(task_id, final)

    def node_done(self, task_id: str, state: TaskState) -> None:
        for child_id in self.run.progress.node_done(task_id, state):
            if self.run.task_runs[(child_id, -1)].state != TaskState.PENDING:
                continue
            if self.run.progress.not_followed(task_id, child_id):
                self._apply(self.run.graph.nodes[child_id], Decision.SKIP)
                continue
            self.consider(self.run.graph.nodes[child_id])
        self.maybe_finish()

    def consider(self, node: Node) -> None:
        if self.run.run_state != RunState.RUNNING or self.run.final is not None:
            return
        decision = self.run.progress.decide(node)
        if decision != Decision.WAIT:
            self._apply(node, decision)

    def _apply(self, node: Node, decision: Decision) -> None:
        record = self.run.task_runs[(node.task_id, -1)]
        if decision == Decision.RUN:
            if node.mapped:
                self._expand(node, record)
                return
            self.run.move(record, TaskState.SCHEDULED)
            self.run.queue.push(record.key)
            return
        record.ended_at = self.run.clock.now()
        final = TaskState.SKIPPED if decision == Decision.SKIP else TaskState.UPSTREAM_FAILED
        self.run.move(record, final)
        self.node_done(node.task_id, final)

    def _expand(self, node: Node, parent: TaskRunRecord) -> None:
        if parent.map_count and (node.task_id, 0) in self.run.task_runs:
            self._expand_again(node, parent)
            return
        count = map_length(node, self.run.graph, self.run.task_runs, self.run.lengths, self.run.params)
        now = self.run.clock.now()
        parent.started_at = now
        for state in (TaskState.SCHEDULED, TaskState.QUEUED, TaskState.RUNNING):
            self.run.move(parent, state)
        if isinstance(count, str):  # not a list: the mapped node fails with the reason
            parent.ended_at = now
            self.run.move(parent, TaskState.FAILED, reason=count)
            self.node_done(node.task_id, TaskState.FAILED)
            return
        parent.map_count = count
        self.run.progress.elements_left[node.task_id] = count
        if count == 0:
            parent.ended_at = now
            self.run.move(parent, TaskState.SUCCESS)
            self.node_done(node.task_id, TaskState.SUCCESS)
            return
        children = [
            TaskRunRecord(
                run_id=self.run.run_id,
                task_id=node.task_id,
                map_index=i,
                max_tries=node.policy.retry.retries + 1,
                pool=node.policy.pool,
            )
            for i in range(count)
        ]
        self.run.log.create(children)
        for child in children:
            self.run.task_runs[child.key] = child
            self.run.move(child, TaskState.SCHEDULED)
            self.run.queue.push(child.key)

    def _expand_again(self, node: Node, parent: TaskRunRecord) -> None:
        """A cleared mapped node whose elements exist: run the cleared ones, keep the others."""
        parent.started_at = self.run.clock.now()
        for state in (TaskState.SCHEDULED, TaskState.QUEUED, TaskState.RUNNING):
            self.run.move(parent, state)
        count = parent.map_count or 0
        children = [self.run.task_runs[(node.task_id, i)] for i in range(count)]
        self.run.progress.elements_left[node.task_id] = sum(
            1 for c in children if c.state not in TASK_TERMINAL
        )
        for child in children:
            if child.state == TaskState.PENDING:
                self.run.move(child, TaskState.SCHEDULED)
                self.run.queue.push(child.key)
        if self.run.progress.elements_left[node.task_id] == 0:
            self.finish_mapped(node.task_id)

    def maybe_finish(self) -> None:
        if self.run.run_state != RunState.RUNNING or self.run.progress.open_nodes:
            return
        nodes = [(r.task_id, r.state) for r in self.run.task_runs.values() if r.map_index < 0]
        state, reason = outcomes.run_outcome(outcomes.run_end(nodes, self.run.final, self.run.reason))
        fields: dict[str, Any] = {"ended_at": self.run.clock.now(), "reason": reason}
        if state == RunState.SUCCESS:
            output = self.run.graph.output
            if isinstance(output, TaskOutput) and not self.run.graph.nodes[output.task_id].mapped:
                ref = self.run.results.get((output.task_id, -1))
                if ref is not None:
                    fields.update(result_data=ref.data, result_path=ref.url)
        self.run.set_run(state, **fields)
        event = "success" if state == RunState.SUCCESS else "failure"
        if state != RunState.CANCELLED:
            self.run.callbacks.flow(event, state, self.run.reason)
