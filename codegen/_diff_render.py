"""``glacier diff``'s renderings of a ``codegen._diff.Diff``: text, markdown (a pull request
comment with a Mermaid graph of the changed neighbourhood), JSON and GitHub annotations."""

from __future__ import annotations

import dataclasses
import html
import json
import re
from collections.abc import Iterable, Iterator

from codegen._diff import Diff, EnvironmentDiff, ItemDiff, PipelineDiff, edge_set
from codegen._graph import mermaid_text
from codegen._names import graph_ids
from glacier.model import PipelineModel, Span

__all__ = ["FORMATS", "render_diff"]

FORMATS = ("text", "markdown", "json", "github")
_MARK = {"added": "+", "removed": "-", "changed": "~", "renamed": ">"}
_GRAPH_LIMIT = 60
"""Nodes above which the Mermaid graph is left out (GitHub renders it unreadably small)."""


def render_diff(diff: Diff, fmt: str = "text") -> str:
    """``diff`` as ``fmt`` (one of ``FORMATS``), ending with a newline."""
    if fmt == "json":
        return json.dumps(diff.to_dict(), indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        return "\n".join(_markdown(diff)) + "\n"
    if fmt == "github":
        return "".join(line + "\n" for line in _github(diff))
    if fmt == "text":
        return "\n".join(_text(diff)) + "\n"
    raise ValueError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")


def _headline(diff: Diff) -> str:
    count = len(diff.pipelines)
    what = f"{count} pipeline{'s' * (count != 1)} changed" if count else "no pipeline changed"
    return f"glacier diff {diff.base}..{diff.head}: {what}"


def _item_line(item: ItemDiff) -> str:
    line = f"{_MARK[item.status]} {item.kind} `{item.name}` {item.status}"
    if item.previous:
        line += f" from `{item.previous}`"
    return line + ("" if item.status == "removed" else f" ({item.span})")


def _change_lines(item_changes: Iterable[object]) -> Iterator[str]:
    for change in item_changes:
        field, before, after = (getattr(change, n) for n in ("field", "before", "after"))
        yield f"{field}: {before} -> {after}"


def _counts(statuses: Iterable[str]) -> str:
    """``+2 −1 ~1``: how many of each status (an em dash for none)."""
    marks = {"added": "+", "removed": "\u2212", "changed": "~", "renamed": "~"}
    totals: dict[str, int] = {}
    for status in statuses:
        totals[marks[status]] = totals.get(marks[status], 0) + 1
    return " ".join(f"{m}{n}" for m, n in totals.items()) or "\u2014"


# -- text ---------------------------------------------------------------------------------------


def _text(diff: Diff) -> Iterator[str]:
    yield _headline(diff)
    for note in diff.notes:
        yield f"note: {note}"
    for p in diff.pipelines:
        yield ""
        title = f"pipeline `{p.name}` {p.status}"
        if p.previous:
            title += f" from `{p.previous}`"
        yield f"{title} ({p.span})"
        for line in _pipeline_body(p):
            yield "  " + line


def _pipeline_body(p: PipelineDiff) -> Iterator[str]:
    yield from _change_lines(p.changes)
    for item in (*p.tasks, *p.datasets):
        yield _item_line(item)
        for line in _change_lines(item.changes):
            yield "    " + line
    for edge in p.edges:
        yield f"{_MARK[edge.status]} edge `{edge.source}` -> `{edge.target}` ({edge.kind})"
    if p.affected:
        yield "affected downstream: " + ", ".join(f"`{t}`" for t in p.affected)
    for env in p.environments:
        yield f"environment `{env.name}`"
        for line in _environment_lines(env):
            yield "  " + line


def _environment_lines(env: EnvironmentDiff) -> Iterator[str]:
    for g in env.grants:
        if g.added:
            yield f"+ `{g.task}` may {', '.join(g.added)} on {g.resource}"
        if g.removed:
            yield f"- `{g.task}` may no longer {', '.join(g.removed)} on {g.resource}"
    for kind, name in env.resources_added:
        yield f"+ resource {kind} {name}"
    for kind, name in env.resources_removed:
        yield f"- resource {kind} {name}"


# -- markdown -----------------------------------------------------------------------------------


def _code(text: str) -> str:
    """``text`` as inline code, whatever backticks it holds."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _markdown(diff: Diff) -> Iterator[str]:
    yield f"### glacier diff {_code(diff.base)} \u2192 {_code(diff.head)}"
    yield ""
    if not diff.pipelines:
        yield "No pipeline changed."
    else:
        yield "| Pipeline | Status | Settings | Tasks | Datasets | Edges | Grants | Resources |"
        yield "| --- | --- | --- | --- | --- | --- | --- | --- |"
        for p in diff.pipelines:
            grants = [
                s
                for env in p.environments
                for g in env.grants
                for s in ("added",) * len(g.added) + ("removed",) * len(g.removed)
            ]
            resources = [
                s
                for env in p.environments
                for s in ("added",) * len(env.resources_added)
                + ("removed",) * len(env.resources_removed)
            ]
            yield (
                "| "
                + " | ".join(
                    _cell(cell)
                    for cell in (
                        _code(p.name),
                        p.status + (f" from {_code(p.previous)}" if p.previous else ""),
                        ", ".join(c.field for c in p.changes) or "\u2014",
                        _counts(t.status for t in p.tasks),
                        _counts(d.status for d in p.datasets),
                        _counts(e.status for e in p.edges),
                        _counts(grants),
                        _counts(resources),
                    )
                )
                + " |"
            )
    for note in diff.notes:
        yield ""
        yield f"> {note}"
    for p in diff.pipelines:
        yield ""
        yield f"<details><summary>pipeline <code>{html.escape(p.name)}</code>: details</summary>"
        yield ""
        for line in _pipeline_body(p):
            text = line.lstrip(" ")
            mark = ""
            if text[:2] in ("+ ", "- ", "~ ", "> "):  # a list item cannot start with them
                mark, text = f"`{text[0]}` ", text[2:]
            yield " " * (len(line) - len(line.lstrip(" "))) + "- " + mark + _md_escape(text)
        graph = _mermaid(p, *diff.models.get(p.name, (None, None)))
        if graph:
            yield ""
            yield "```mermaid"
            yield from graph
            yield "```"
        yield ""
        yield "</details>"


def _md_escape(line: str) -> str:
    """A line of the text body in a markdown list: `names` stay code, the rest is escaped."""
    parts = re.split(r"(`[^`]*`)", line)
    return "".join(
        part if part.startswith("`") and part.endswith("`") and len(part) > 1 else _plain(part)
        for part in parts
    )


def _plain(text: str) -> str:
    return re.sub(r"([\\*_\[\]<>#|~])", r"\\\1", text)


def _mermaid(
    p: PipelineDiff, before: PipelineModel | None, after: PipelineModel | None
) -> list[str]:
    """The changed tasks and datasets, the edges that changed and their direct neighbours."""
    if before is None or after is None:
        return []
    renames = {t.previous: t.name for t in p.tasks if t.previous}
    old, new = edge_set(before, renames), edge_set(after, {})
    status: dict[tuple[str, str], str] = {}
    was: dict[tuple[str, str], str] = {}
    for item in (*p.tasks, *p.datasets):
        status[(item.kind, item.name)] = "changed" if item.status == "renamed" else item.status
        if item.previous:
            was[(item.kind, item.name)] = f" (was {item.previous})"
    for change in p.edges:
        for node in _ends(change.kind, change.source, change.target):
            status.setdefault(node, "neighbour")
    centre = set(status)
    for kind, source, target in old | new:
        ends = _ends(kind, source, target)
        if any(end in centre for end in ends):
            for end in ends:
                status.setdefault(end, "neighbour")
    if not centre or len(status) > _GRAPH_LIMIT:
        return []
    tasks = graph_ids("task", [n for k, n in status if k == "task"])
    datasets = graph_ids("ds", [n for k, n in status if k == "dataset"])
    ids = {
        **{("task", n): i for n, i in tasks.items()},
        **{("dataset", n): i for n, i in datasets.items()},
    }
    lines = ["flowchart LR"]
    for node in sorted(status, key=lambda n: ids[n]):
        kind, name = node
        label = mermaid_text(name + was.get(node, ""))
        mark = {"added": "+ ", "removed": "- ", "changed": "~ "}.get(status[node], "")
        shape = f'["{mark}{label}"]' if kind == "task" else f'[("{mark}{label}")]'
        suffix = f":::{status[node]}" if status[node] != "neighbour" else ""
        lines.append(f"  {ids[node]}{shape}{suffix}")
    for kind, source, target in sorted(old | new):
        a, b = _ends(kind, source, target)
        if a not in ids or b not in ids:
            continue
        edge = (kind, source, target)
        if edge in new and edge not in old:
            arrow = "== added ==>"
        elif edge in old and edge not in new:
            arrow = "-. removed .->"
        else:
            arrow = "-->"
        lines.append(f"  {ids[a]} {arrow} {ids[b]}")
    lines += [
        "  classDef added fill:#dafbe1,stroke:#1a7f37",
        "  classDef removed fill:#ffebe9,stroke:#cf222e,stroke-dasharray:4 3",
        "  classDef changed fill:#fff8c5,stroke:#9a6700",
    ]
    return lines


def _ends(kind: str, source: str, target: str) -> tuple[tuple[str, str], tuple[str, str]]:
    if kind == "writes":
        return ("task", source), ("dataset", target)
    return ("dataset", source), ("task", target)


# -- GitHub annotations -------------------------------------------------------------------------


def _github(diff: Diff) -> Iterator[str]:
    for p in diff.pipelines:
        after = diff.models.get(p.name, (None, None))[1]
        for span, message in _annotations(p, after):
            yield _annotation(diff.root, span, message)


def _annotations(p: PipelineDiff, after: PipelineModel | None) -> Iterator[tuple[Span, str]]:
    tasks = {t.name: t.span for t in after.tasks} if after else {}
    title = f"pipeline `{p.name}` {p.status}" + (f" from `{p.previous}`" if p.previous else "")
    head = [*_change_lines(p.changes)]
    yield p.span, "\n".join([title, *head])
    for item in (*p.tasks, *p.datasets):
        where = p.span if item.status == "removed" else item.span
        yield where, "\n".join([_item_line(item), *_change_lines(item.changes)])
    for edge in p.edges:
        task = edge.source if edge.kind == "writes" else edge.target
        message = f"{_MARK[edge.status]} edge `{edge.source}` -> `{edge.target}` ({edge.kind})"
        yield tasks.get(task, p.span), message
    if p.affected:
        yield p.span, "affected downstream: " + ", ".join(f"`{t}`" for t in p.affected)
    for env in p.environments:
        for name in dict.fromkeys(g.task for g in env.grants):
            only = EnvironmentDiff(env.name, tuple(g for g in env.grants if g.task == name))
            lines = [f"environment `{env.name}`", *_environment_lines(only)]
            yield tasks.get(name, p.span), "\n".join(lines)
        if env.resources_added or env.resources_removed:
            only = dataclasses.replace(env, grants=())
            yield p.span, "\n".join([f"environment `{env.name}`", *_environment_lines(only)])


def _annotation(root: str, span: Span, message: str) -> str:
    path = f"{root.rstrip('/')}/{span.file}" if root else span.file
    properties = ",".join(
        f"{key}={_escape_property(str(value))}"
        for key, value in (
            ("file", path),
            ("line", span.line),
            ("col", span.column),
            ("title", "glacier diff"),
        )
    )
    return f"::notice {properties}::{_escape_data(message)}"


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")
