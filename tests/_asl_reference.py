"""The ASL planner as it was before it was made linear (recursive, cubic): the reference the
new planner must match plan for plan on small DAGs (``tests/test_scale.py``)."""

from __future__ import annotations

from typing import Any

Plan = tuple[Any, ...]


def _plan(tasks: set[str], upstream: dict[str, set[str]], order: dict[str, int]) -> Plan:
    """The series-parallel plan of ``tasks`` (see the module docstring)."""
    if len(tasks) == 1:
        return ("task", next(iter(tasks)))
    groups = _components(tasks, upstream)
    if len(groups) > 1:
        first = sorted(groups, key=lambda g: min(order[t] for t in g))
        return ("par", [_plan(g, upstream, order) for g in first])
    ancestors = {t: _closure_of(t, upstream, tasks) for t in tasks}
    downstream: dict[str, set[str]] = {t: set() for t in tasks}
    for task, ups in ancestors.items():
        for up in ups:
            downstream[up].add(task)
    for pivot in sorted(tasks, key=order.__getitem__):
        if ancestors[pivot] | downstream[pivot] | {pivot} == tasks:
            parts: list[Plan] = []
            if ancestors[pivot]:
                parts.append(_plan(ancestors[pivot], upstream, order))
            parts.append(("task", pivot))
            if downstream[pivot]:
                parts.append(_plan(downstream[pivot], upstream, order))
            return _flat_seq(parts)
    return _flat_seq([_plan_level(level) for level in _levels(tasks, upstream, order)])


def _plan_level(level: list[str]) -> Plan:
    return ("task", level[0]) if len(level) == 1 else ("par", [("task", t) for t in level])


def _flat_seq(parts: list[Plan]) -> Plan:
    flat: list[Plan] = []
    for part in parts:
        flat.extend(part[1] if part[0] == "seq" else [part])
    return flat[0] if len(flat) == 1 else ("seq", flat)


def _closure_of(task: str, upstream: dict[str, set[str]], within: set[str]) -> set[str]:
    found: set[str] = set()
    pending = [u for u in upstream[task] if u in within]
    while pending:
        up = pending.pop()
        if up not in found:
            found.add(up)
            pending.extend(u for u in upstream[up] if u in within)
    return found


def _components(tasks: set[str], upstream: dict[str, set[str]]) -> list[set[str]]:
    neighbours: dict[str, set[str]] = {t: set() for t in tasks}
    for task in tasks:
        for up in upstream[task] & tasks:
            neighbours[task].add(up)
            neighbours[up].add(task)
    groups: list[set[str]] = []
    seen: set[str] = set()
    for start in sorted(tasks):
        if start in seen:
            continue
        group, pending = set(), [start]
        while pending:
            task = pending.pop()
            if task not in group:
                group.add(task)
                pending.extend(neighbours[task] - group)
        seen |= group
        groups.append(group)
    return groups


def _levels(
    tasks: set[str], upstream: dict[str, set[str]], order: dict[str, int]
) -> list[list[str]]:
    level: dict[str, int] = {}
    for task in sorted(tasks, key=order.__getitem__):
        level[task] = 1 + max((level[u] for u in upstream[task] & tasks), default=-1)
    grouped: dict[int, list[str]] = {}
    for task, lvl in level.items():
        grouped.setdefault(lvl, []).append(task)
    return [sorted(grouped[k]) for k in sorted(grouped)]
