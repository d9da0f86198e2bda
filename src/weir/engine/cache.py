"""Cache keys: a task's code, its argument template, and the digests of its inputs and params.

Inputs are known by the digests workers report with each result, so a key is computed without
reading any result (on this machine or any other).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from weir.executors.base import TryKey
from weir.graph.model import Graph, Node, ParamValue, walk
from weir.graph.snapshot import encode
from weir.io.results import ResultRef
from weir.store.records import CacheEntry, TaskRunRecord

TaskKey = tuple[str, int]


@dataclass(frozen=True, slots=True)
class CacheProbe:
    """A cache key to look up before ``task`` runs."""

    key: str
    task: TaskKey
    expires: float | None


def digest(parts: list[Any]) -> str:
    """A cache key from its parts."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=repr).encode()).hexdigest()


def cache_key(
    node: Node,
    record: TaskRunRecord,
    graph: Graph,
    task_runs: Mapping[TaskKey, TaskRunRecord],
    refs: Mapping[TaskKey, ResultRef],
    params: Mapping[str, Any],
) -> str:
    """The key of one task run: equal code, template, inputs and params give equal keys."""
    parts: list[Any] = [node.task_name, node.code_hash, encode((node.args, dict(node.kwargs), node.map_over))]
    parts.append(record.map_index)
    for up in node.data_upstream:
        if graph.nodes[up].mapped:
            count = task_runs[(up, -1)].map_count or 0
            parts.extend(_ref_digest(refs.get((up, i))) for i in range(count))
        else:
            parts.append(_ref_digest(refs.get((up, -1))))
    for marker in walk((node.args, node.kwargs, node.map_over)):
        if isinstance(marker, ParamValue):
            parts.append([marker.name, params.get(marker.name)])
    return digest(parts)


def key_fn_key(node: Node, user_key: str) -> str:
    """The key of a task run whose ``cache_key_fn`` returned ``user_key``."""
    return digest(["key_fn", node.code_hash, user_key])


def _ref_digest(ref: ResultRef | None) -> str:
    if ref is None:
        return "-"
    if ref.digest:
        return ref.digest
    if ref.data is not None:
        return hashlib.sha256(ref.data).hexdigest()
    return f"url:{ref.url}"


class CacheBook:
    """The cache keys of one run's task runs: computed, asked for (``cache_key_fn`` calls in
    flight), the probes waiting for the store's answer, and who computes each key.

    Within one run a key is computed once: a task run whose key another task run of the run
    is already looking up or computing waits for it, and is served from its result.
    """

    def __init__(self) -> None:
        self.keys: dict[TaskKey, tuple[str, float | None]] = {}
        self.calls: dict[TryKey, TaskKey] = {}  # cache_key_fn calls in flight
        self.probes: list[CacheProbe] = []
        self._computing: dict[str, TaskKey] = {}  # key -> the task run of this run computing it
        self._waiting: dict[str, list[TaskKey]] = {}  # key -> task runs waiting for its result
        self._made: dict[str, CacheEntry] = {}  # entries this run made or was served

    def remembered(self, text: str) -> CacheEntry | None:
        """The entry for key ``text`` this run already has (made or looked up), if any."""
        return self._made.get(text)

    def remember(self, entry: CacheEntry) -> None:
        self._made[entry.key] = entry

    def known(self, task: TaskKey) -> bool:
        """Whether ``task``'s key is known (or was given up on): it runs or is probed already."""
        return task in self.keys

    def serve(self, task: TaskKey, text: str, expires: float | None) -> None:
        """``task`` is served from the entry of ``text`` this run has (see :meth:`remembered`)."""
        self.keys[task] = (text, expires)

    def probe(self, task: TaskKey, text: str, expires: float | None) -> bool:
        """Look ``text`` up before ``task`` runs; False when another task run of this run is
        computing that key already (``task`` then waits for its result: see :meth:`finished`)."""
        self.keys[task] = (text, expires)
        first = self._computing.setdefault(text, task)
        if first != task:
            self._waiting.setdefault(text, []).append(task)
            return False
        self.probes.append(CacheProbe(key=text, task=task, expires=expires))
        return True

    def finished(self, task: TaskKey) -> list[TaskKey]:
        """``task`` ended (with its result, or without one): the task runs that waited for its key."""
        known = self.keys.get(task)
        if known is None or self._computing.get(known[0]) != task:
            return []
        del self._computing[known[0]]
        return self._waiting.pop(known[0], [])

    def forget(self, task: TaskKey) -> None:
        """Look ``task``'s key up again next time (the task run that computed it failed)."""
        self.keys.pop(task, None)

    def give_up(self, task: TaskKey) -> None:
        """Run ``task`` without the cache (its ``cache_key_fn`` failed)."""
        self.keys[task] = ("", None)

    def take_probes(self) -> list[CacheProbe]:
        probes, self.probes = self.probes, []
        return probes

    def entry(
        self,
        task: TaskKey,
        *,
        flow_name: str,
        run_id: int,
        result: ResultRef,
        length: int | None,
        at: datetime,
    ) -> CacheEntry | None:
        """The cache entry to keep for ``task``'s result, when it has a key."""
        known = self.keys.get(task)
        if known is None or not known[0]:
            return None
        key, expires = known
        return CacheEntry(
            key=key,
            flow_name=flow_name,
            task_id=task[0],
            run_id=run_id,
            result_data=result.data,
            result_path=result.url,
            result_size=result.size,
            result_length=length,
            result_digest=result.digest or None,
            created_at=at,
            expires_at=None if expires is None else at + timedelta(seconds=expires),
        )
