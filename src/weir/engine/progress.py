"""Which nodes of one run have finished and how, and what that decides for the nodes after them.

Counts are kept up to date as nodes finish, so deciding a node's fate costs O(1) however wide
its fan-in, and knowing whether the run is done costs O(1) too.
"""

from __future__ import annotations

from collections.abc import Iterable

from weir.graph.model import Graph, Node
from weir.graph.triggers import Decision, UpstreamCounts, decide_counts
from weir.states import TASK_SUCCESSES, TASK_TERMINAL, TaskState
from weir.store.records import TaskRunRecord


class Progress:
    """The finished upstream nodes of every node, the branches chosen, and the open nodes of a run."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.upstream_done: dict[str, dict[str, TaskState]] = {tid: {} for tid in graph.nodes}
        self.counts: dict[str, UpstreamCounts] = {tid: UpstreamCounts() for tid in graph.nodes}
        #: branch task -> the downstream ids it chose to follow.
        self.followed: dict[str, frozenset[str]] = {}
        #: mapped node -> how many of its elements have not finished.
        self.elements_left: dict[str, int] = {}
        #: nodes (not mapped elements) not yet in a final state.
        self.open_nodes = 0
        # Branch nodes upstream of each node: the only upstreams whose choice can skip it.
        self._branch_ups = {
            tid: [u for u in node.upstream if graph.nodes[u].policy.branch]
            for tid, node in graph.nodes.items()
        }

    def restore(self, records: Iterable[TaskRunRecord]) -> None:
        """Take the states of a run read back from the store."""
        by_key = {r.key: r for r in records}
        self.open_nodes = sum(1 for r in by_key.values() if r.map_index < 0 and r.state not in TASK_TERMINAL)
        for task_id, node in self.graph.nodes.items():
            parent = by_key[(task_id, -1)]
            if node.mapped and parent.map_count is not None:
                self.elements_left[task_id] = sum(
                    1
                    for i in range(parent.map_count)
                    if by_key.get((task_id, i), parent).state not in TASK_TERMINAL
                )
            for up in node.upstream:
                up_state = by_key[(up, -1)].state
                if up_state in TASK_TERMINAL:
                    self.record_upstream(task_id, up, TaskState(up_state))

    def moved(self, record: TaskRunRecord, old: TaskState, new: TaskState) -> None:
        """Count a node that became final (or open again)."""
        if record.map_index < 0 and (old in TASK_TERMINAL) != (new in TASK_TERMINAL):
            self.open_nodes += 1 if old in TASK_TERMINAL else -1

    def record_upstream(self, task_id: str, upstream: str, state: TaskState) -> None:
        if upstream not in self.upstream_done[task_id]:
            self.counts[task_id].add(state)
        self.upstream_done[task_id][upstream] = state

    def node_done(self, task_id: str, state: TaskState) -> list[str]:
        """Record that node ``task_id`` ended in ``state``; returns its downstream node ids."""
        children = list(self.graph.downstream[task_id])
        for child in children:
            self.record_upstream(child, task_id, state)
        return children

    def element_done(self, task_id: str) -> bool:
        """One element of mapped node ``task_id`` ended; True when it was the last one."""
        left = self.elements_left[task_id] - 1
        self.elements_left[task_id] = left
        return left == 0

    def decide(self, node: Node) -> Decision:
        """What to do with pending ``node`` now: run, skip, upstream-failed, or wait.

        A node that a branch upstream did not choose is skipped once that branch succeeded;
        otherwise the node's trigger rule decides from the counts of its finished upstreams.
        """
        seen = self.upstream_done[node.task_id]
        for up in self._branch_ups[node.task_id]:
            chosen = self.followed.get(up)
            if chosen is not None and node.task_id not in chosen and seen.get(up) in TASK_SUCCESSES:
                return Decision.SKIP
        return decide_counts(node.policy.trigger, self.counts[node.task_id], len(node.upstream))

    def not_followed(self, branch: str, child: str) -> bool:
        """Whether ``child`` is a direct downstream node the branch task ``branch`` did not choose."""
        chosen = self.followed.get(branch)
        return chosen is not None and child not in chosen
