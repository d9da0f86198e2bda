"""Geometry for the SVG pictures: the layered graph, the Gantt chart of tries. Pure functions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from weir.store.records import TaskRunRecord, TryRecord

NODE_W = 168
NODE_H = 38
COL_GAP = 64
ROW_GAP = 18
PAD = 12


@dataclass(frozen=True, slots=True)
class NodeBox:
    task_id: str
    label: str
    x: float
    y: float
    state: str
    mapped: bool
    map_count: int | None

    @property
    def cx(self) -> float:
        return self.x + NODE_W / 2


@dataclass(frozen=True, slots=True)
class EdgePath:
    source: str
    target: str
    kind: str
    d: str


@dataclass(frozen=True, slots=True)
class GraphLayout:
    width: float
    height: float
    nodes: list[NodeBox]
    edges: list[EdgePath]
    node_w: int = NODE_W
    node_h: int = NODE_H


def _layers(ids: list[str], upstream: dict[str, list[str]]) -> dict[str, int]:
    """Longest path from a source: every node sits one column right of its deepest upstream."""
    layer: dict[str, int] = {}
    remaining = list(ids)
    for _ in range(len(ids) + 1):  # stored nodes are topological; this also survives odd orders
        pending = []
        for task_id in remaining:
            ups = [u for u in upstream.get(task_id, []) if u in upstream]
            if all(u in layer for u in ups):
                layer[task_id] = 1 + max((layer[u] for u in ups), default=-1)
            else:
                pending.append(task_id)
        if not pending:
            break
        remaining = pending
    for task_id in remaining:
        layer.setdefault(task_id, 0)
    return layer


def layout_graph(graph: dict[str, Any], states: dict[str, TaskRunRecord] | None = None) -> GraphLayout:
    """Place the nodes of a stored graph in columns (left to right) and route the edges between them.

    Within a column, nodes are ordered by the mean row of their upstream nodes (barycentre),
    which keeps most edges short and uncrossed.
    """
    states = states or {}
    nodes = [n for n in graph.get("nodes", []) if isinstance(n, dict) and "task_id" in n]
    upstream = {n["task_id"]: [str(u) for u in n.get("upstream", [])] for n in nodes}
    ids = list(upstream)
    layer = _layers(ids, upstream)
    columns: dict[int, list[str]] = {}
    for task_id in ids:
        columns.setdefault(layer[task_id], []).append(task_id)
    row: dict[str, float] = {}
    for col in sorted(columns):
        members = columns[col]
        for i, task_id in enumerate(members):
            ups = [row[u] for u in upstream[task_id] if u in row]
            row[task_id] = sum(ups) / len(ups) if ups else float(i)
        members.sort(key=lambda t: (row[t], ids.index(t)))
        for i, task_id in enumerate(members):
            row[task_id] = float(i)
    tallest = max((len(m) for m in columns.values()), default=0)
    height = PAD * 2 + tallest * NODE_H + max(tallest - 1, 0) * ROW_GAP
    boxes: dict[str, NodeBox] = {}
    by_id = {n["task_id"]: n for n in nodes}
    for col, members in columns.items():
        offset = (tallest - len(members)) * (NODE_H + ROW_GAP) / 2
        for i, task_id in enumerate(members):
            record = states.get(task_id)
            boxes[task_id] = NodeBox(
                task_id=task_id,
                label=task_id if len(task_id) <= 20 else task_id[:19] + "…",
                x=PAD + col * (NODE_W + COL_GAP),
                y=PAD + offset + i * (NODE_H + ROW_GAP),
                state=record.state if record else "none",
                mapped=bool(by_id[task_id].get("mapped")),
                map_count=record.map_count if record else None,
            )
    edges = []
    for edge in graph.get("edges", []):
        if not isinstance(edge, list | tuple) or len(edge) < 2:
            continue
        src, dst = boxes.get(str(edge[0])), boxes.get(str(edge[1]))
        if src is None or dst is None:
            continue
        x1, y1 = src.x + NODE_W, src.y + NODE_H / 2
        x2, y2 = dst.x - 2, dst.y + NODE_H / 2
        bend = max((x2 - x1) / 2, 20)
        d = f"M{x1:.1f},{y1:.1f} C{x1 + bend:.1f},{y1:.1f} {x2 - bend:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
        kind = str(edge[2]) if len(edge) > 2 else "data"
        edges.append(EdgePath(source=src.task_id, target=dst.task_id, kind=kind, d=d))
    width = PAD * 2 + len(columns) * NODE_W + max(len(columns) - 1, 0) * COL_GAP
    return GraphLayout(width=width, height=height, nodes=list(boxes.values()), edges=edges)


# -- Gantt ----------------------------------------------------------------------------------------

GANTT_LABEL_W = 190
GANTT_W = 720
GANTT_ROW = 20
GANTT_MAX_ROWS = 300


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    task_id: str
    map_index: int
    number: int
    state: str
    x: float
    y: float
    w: float
    title: str


@dataclass(frozen=True, slots=True)
class Gantt:
    bars: list[Bar]
    rows: list[tuple[str, float, str, int]]  # (label, y, task_id, map_index)
    ticks: list[tuple[float, str]]
    width: float
    height: float
    label_w: int
    hidden: int


def gantt(tries: list[TryRecord], order: dict[str, int], now: datetime) -> Gantt:
    """Bars of tries over time, one row per task run (topological order), tries side by side."""
    started = [t for t in tries if t.started_at is not None]
    keys = sorted(
        {(t.task_id, t.map_index) for t in started}, key=lambda k: (order.get(k[0], len(order)), k[0], k[1])
    )
    hidden = max(len(keys) - GANTT_MAX_ROWS, 0)
    keys = keys[:GANTT_MAX_ROWS]
    row_of = {k: i for i, k in enumerate(keys)}
    height = 24 + len(keys) * GANTT_ROW
    if not keys:
        return Gantt([], [], [], GANTT_LABEL_W + GANTT_W, height, GANTT_LABEL_W, 0)
    t0 = min(t.started_at for t in started if t.started_at)
    t1 = max((t.ended_at or now) for t in started)
    span = max((t1 - t0).total_seconds(), 0.001)
    scale = GANTT_W / span
    bars = []
    for t in started:
        key = (t.task_id, t.map_index)
        if key not in row_of or t.started_at is None:
            continue
        end = t.ended_at or now
        x = GANTT_LABEL_W + (t.started_at - t0).total_seconds() * scale
        w = max((end - t.started_at).total_seconds() * scale, 2.0)
        label = t.task_id if t.map_index < 0 else f"{t.task_id}[{t.map_index}]"
        seconds = (end - t.started_at).total_seconds()
        bars.append(
            Bar(
                label=label,
                task_id=t.task_id,
                map_index=t.map_index,
                number=t.number,
                state=t.state,
                x=x,
                y=20 + row_of[key] * GANTT_ROW,
                w=min(w, GANTT_LABEL_W + GANTT_W - x),
                title=f"{label} try {t.number}: {t.state}, {seconds:.3f}s",
            )
        )
    rows: list[tuple[str, float, str, int]] = [
        (k[0] if k[1] < 0 else f"{k[0]}[{k[1]}]", 20 + i * GANTT_ROW, k[0], k[1]) for i, k in enumerate(keys)
    ]
    ticks = []
    for i in range(5):
        seconds = span * i / 4
        ticks.append((GANTT_LABEL_W + seconds * scale, _short(seconds)))
    return Gantt(bars, rows, ticks, GANTT_LABEL_W + GANTT_W + 24, height, GANTT_LABEL_W, hidden)


def _short(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 120:
        return f"{seconds:.1f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"
