"""What changed between two revisions of a project's pipelines, as plain data (``glacier diff``).

Each revision is first reduced to a ``Revision``: its models (the analyzer's, read from the
revision's files, never imported), each task's code fingerprint (``task_fingerprints``, the
runner's), the data grants of each task's role per environment (the deployment target's
``grants``, from ``glacier_aws.grants``) and, when the target can preview, the resources of
each environment's generated program (types and names, under the target's mocks). ``compare``
then gives a ``Diff``: frozen records, sorted, JSON-ready (``Diff.to_dict``); rendering is
``codegen._diff_render``'s.

Matching: pipelines by name, then an unmatched pair with the same module and variable is a
rename; tasks by name, then by module and function (a rename); datasets by name. A renamed
task's edges, grants and fields are compared with its old self's, so a rename alone is one
line.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from codegen._graph_data import edges
from codegen._runner import task_fingerprints
from glacier.model import (
    RETRY_BACKOFF,
    RETRY_DELAY_S,
    ComputeModel,
    DatasetModel,
    PipelineModel,
    Span,
    StorageModel,
    TaskModel,
)

__all__ = [
    "DIFF_SCHEMA",
    "Diff",
    "EdgeChange",
    "EnvironmentDiff",
    "FieldChange",
    "GrantChange",
    "ItemDiff",
    "PipelineDiff",
    "Revision",
    "compare",
    "edge_set",
    "read_revision",
]

DIFF_SCHEMA = 1
"""The version of ``Diff.to_dict``'s shape (docs/diff.md); a change that breaks a reader
bumps it."""

Grants = Mapping[str, tuple[tuple[str, str], ...]]
"""Task name -> its (resource, action) pairs."""


@dataclass(frozen=True, slots=True)
class Revision:
    """What ``compare`` needs of one revision, by pipeline name."""

    label: str
    models: tuple[PipelineModel, ...]
    fingerprints: Mapping[str, Mapping[str, str | None]]
    grants: Mapping[str, Mapping[str, Grants]]
    """Pipeline -> environment -> task -> grants."""
    resources: Mapping[str, Mapping[str, tuple[tuple[str, str], ...]]] | None
    """Pipeline -> environment -> (type, name) of each resource; None: not previewed."""
    errors: int = 0
    """Errors ``glacier check`` reports for this revision (its model may be partial)."""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field of a pipeline, task or dataset, before and after, as short text."""

    field: str
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class ItemDiff:
    """A task or dataset (``kind``) that was added, removed, renamed or changed."""

    kind: str  # "task" | "dataset"
    name: str
    status: str  # "added" | "removed" | "renamed" | "changed"
    span: Span
    """Where it is written: in the head revision, or the base one when it was removed."""
    previous: str | None = None
    """Its name in the base revision, when renamed."""
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True, slots=True)
class EdgeChange:
    """A task writes a dataset (``writes``: task -> dataset) or reads it (``reads``)."""

    status: str  # "added" | "removed"
    kind: str
    source: str
    target: str


@dataclass(frozen=True, slots=True)
class GrantChange:
    """What one task's role gains and loses on one resource."""

    task: str
    resource: str
    added: tuple[str, ...]
    removed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EnvironmentDiff:
    name: str
    grants: tuple[GrantChange, ...] = ()
    resources_added: tuple[tuple[str, str], ...] = ()
    resources_removed: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class PipelineDiff:
    name: str
    status: str  # "added" | "removed" | "renamed" | "changed"
    span: Span
    previous: str | None = None
    changes: tuple[FieldChange, ...] = ()
    tasks: tuple[ItemDiff, ...] = ()
    datasets: tuple[ItemDiff, ...] = ()
    edges: tuple[EdgeChange, ...] = ()
    affected: tuple[str, ...] = ()
    """Tasks downstream of a change that did not change themselves: they run on new inputs."""
    environments: tuple[EnvironmentDiff, ...] = ()


@dataclass(frozen=True, slots=True)
class Diff:
    base: str
    head: str
    pipelines: tuple[PipelineDiff, ...]
    notes: tuple[str, ...] = ()
    root: str = ""
    """The project's directory relative to the repository's top (``""``: the same), for
    renderers that name files from the repository's top."""
    models: Mapping[str, tuple[PipelineModel | None, PipelineModel | None]] = field(
        default_factory=dict, compare=False
    )
    """Pipeline (head name) -> its base and head models, for the Mermaid neighbourhood."""

    @property
    def changed(self) -> bool:
        return bool(self.pipelines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": DIFF_SCHEMA,
            "base": self.base,
            "head": self.head,
            "changed": self.changed,
            "pipelines": [_pipeline_dict(p) for p in self.pipelines],
            "notes": list(self.notes),
        }


# -- reading a revision -------------------------------------------------------------------------

_PREVIEWS: dict[str, tuple[tuple[str, str], ...]] = {}
"""Resources of a program already previewed in this process, by a hash of its files."""


def read_revision(
    analysis: Any, label: str, deployment: Any = None, *, preview: bool = True
) -> Revision:
    """Reduce an ``analyzer.Analysis`` of one revision to what ``compare`` needs.

    ``deployment`` (a ``DeploymentTarget``) gives the grants (when it has ``grants``) and,
    with ``preview``, each environment's resources; a failure there is a note, not an error.
    """
    models = tuple(sorted(analysis.pipelines, key=lambda m: m.name))
    fingerprints = {m.name: task_fingerprints(m, analysis.modules) for m in models}
    errors = sum(d.severity == "error" for d in analysis.diagnostics)
    grants: dict[str, dict[str, Grants]] = {}
    resources: dict[str, dict[str, tuple[tuple[str, str], ...]]] | None = None
    notes: list[str] = []
    if deployment is not None:
        grants_of = getattr(deployment, "grants", None)
        resources = {} if preview else None
        for model in models:
            if any(d.severity == "error" for d in deployment.diagnostics(analysis, model)):
                notes.append(f"{label}: pipeline `{model.name}` cannot be deployed")
                continue
            if grants_of is not None:
                grants[model.name] = grants_of(analysis, model)
            if resources is not None:
                found, note = _previewed(deployment, analysis, model)
                if note:
                    notes.append(note)
                    resources = None
                else:
                    resources[model.name] = found
    return Revision(label, models, fingerprints, grants, resources, errors, tuple(notes))


def _previewed(
    deployment: Any, analysis: Any, model: PipelineModel
) -> tuple[dict[str, tuple[tuple[str, str], ...]], str]:
    """Each environment's (type, name) resources, or a note saying why there are none."""
    from glacier.errors import GlacierError

    found = {}
    for env, files in deployment.programs(analysis, model).items():
        key = hashlib.sha256(
            repr((env, sorted(files.items()))).encode("utf-8", "surrogateescape")
        ).hexdigest()
        if key not in _PREVIEWS:
            try:
                _PREVIEWS[key] = _preview(deployment, env, files)
            except GlacierError as exc:
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                return {}, f"resources of the generated programs not compared: {first}"
        found[env] = _PREVIEWS[key]
    return found, ""


def _preview(deployment: Any, env: str, files: Mapping[str, bytes]) -> tuple[tuple[str, str], ...]:
    with tempfile.TemporaryDirectory(prefix="glacier-diff-") as tmp:
        program_dir = os.path.join(tmp, *deployment.program_dir(env).split("/"))
        for path, data in files.items():
            target = os.path.join(program_dir, *path.split("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as fh:
                fh.write(data)
        result = deployment.preview(program_dir, env, os.path.join(tmp, "none"))
    return tuple(sorted({(r["type"], r["name"]) for r in result["resources"]}))


# -- comparing ----------------------------------------------------------------------------------


def compare(base: Revision, head: Revision, *, root: str = "") -> Diff:
    """Everything that differs between ``base`` and ``head``; nothing when they are the same."""
    old = {m.name: m for m in base.models}
    new = {m.name: m for m in head.models}
    pairs = _matched(old, new, lambda m: (m.module, m.variable) if m.variable else None)
    diffs: list[PipelineDiff] = []
    models: dict[str, tuple[PipelineModel | None, PipelineModel | None]] = {}
    for before_name, after_name in pairs:
        before = old.get(before_name) if before_name else None
        after = new.get(after_name) if after_name else None
        found = _pipeline_diff(base, head, before, after)
        if found is not None:
            diffs.append(found)
            models[found.name] = (before, after)
    notes = [*base.notes, *head.notes]
    for revision in (base, head):
        if revision.errors:
            notes.append(
                f"{revision.label}: `glacier check` reports {revision.errors} "
                f"error{'s' * (revision.errors != 1)}; what it could not read is not compared"
            )
    return Diff(
        base.label,
        head.label,
        tuple(sorted(diffs, key=lambda d: d.name)),
        tuple(dict.fromkeys(notes)),
        root,
        models,
    )


def _matched(
    old: Mapping[str, Any], new: Mapping[str, Any], key: Callable[[Any], Any]
) -> list[tuple[str | None, str | None]]:
    """(base name, head name) pairs: same name first, then the same ``key`` (a rename, when
    exactly one on each side has it); the rest alone."""
    pairs: list[tuple[str | None, str | None]] = [(n, n) for n in sorted(old) if n in new]
    gone = [n for n in sorted(old) if n not in new]
    came = [n for n in sorted(new) if n not in old]
    by_key: dict[Any, list[str]] = {}
    for name in came:
        k = key(new[name])
        if k is not None:
            by_key.setdefault(k, []).append(name)
    old_keys: dict[Any, int] = {}
    for name in gone:
        k = key(old[name])
        old_keys[k] = old_keys.get(k, 0) + 1
    renamed: set[str] = set()
    for name in gone:
        k = key(old[name])
        candidates = by_key.get(k, []) if k is not None else []
        if len(candidates) == 1 and old_keys[k] == 1:
            pairs.append((name, candidates[0]))
            renamed.add(candidates[0])
        else:
            pairs.append((name, None))
    pairs.extend((None, n) for n in came if n not in renamed)
    return pairs


def _pipeline_diff(
    base: Revision, head: Revision, before: PipelineModel | None, after: PipelineModel | None
) -> PipelineDiff | None:
    if after is None:
        assert before is not None
        return PipelineDiff(before.name, "removed", before.span)
    if before is None:
        return PipelineDiff(after.name, "added", after.span)
    changes = _fields(_pipeline_fields(before), _pipeline_fields(after))
    old_fp = base.fingerprints.get(before.name, {})
    new_fp = head.fingerprints.get(after.name, {})
    tasks, renames = _task_diffs(before, after, old_fp, new_fp)
    datasets = _dataset_diffs(before, after, renames)
    edge_changes = _edge_changes(before, after, renames)
    environments = _environment_diffs(base, head, before.name, after.name, renames)
    renamed = before.name != after.name
    if not (renamed or changes or tasks or datasets or edge_changes or environments):
        return None
    return PipelineDiff(
        after.name,
        "renamed" if renamed else "changed",
        after.span,
        before.name if renamed else None,
        changes,
        tasks,
        datasets,
        edge_changes,
        _affected(after, tasks, datasets, edge_changes),
        environments,
    )


def _fields(before: Mapping[str, str], after: Mapping[str, str]) -> tuple[FieldChange, ...]:
    return tuple(
        FieldChange(name, before.get(name, ""), after.get(name, ""))
        for name in dict.fromkeys([*before, *after])
        if before.get(name, "") != after.get(name, "")
    )


def _pipeline_fields(model: PipelineModel) -> dict[str, str]:
    return {
        "schedule": model.schedule or "none",
        "description": model.description or "none",
        "environments": ", ".join(f"{e.name} ({e.account}, {e.region})" for e in model.environments)
        or "none",
        "payload checks": "on" if model.check_payloads else "off",
    }


def _task_diffs(
    before: PipelineModel,
    after: PipelineModel,
    old_fp: Mapping[str, str | None],
    new_fp: Mapping[str, str | None],
) -> tuple[tuple[ItemDiff, ...], dict[str, str]]:
    """The task records, and base name -> head name of every task in both."""
    old = {t.name: t for t in before.tasks}
    new = {t.name: t for t in after.tasks}
    found: list[ItemDiff] = []
    renames: dict[str, str] = {}
    for old_name, new_name in _matched(old, new, lambda t: (t.module, t.function)):
        if new_name is None:
            assert old_name is not None
            found.append(ItemDiff("task", old_name, "removed", old[old_name].span))
            continue
        if old_name is None:
            found.append(ItemDiff("task", new_name, "added", new[new_name].span))
            continue
        renames[old_name] = new_name
        was = _task_fields(old[old_name], old_fp.get(old_name))
        now = _task_fields(new[new_name], new_fp.get(new_name))
        changes = _fields(was, now)
        if old_name != new_name or changes:
            status = "renamed" if old_name != new_name else "changed"
            previous = old_name if old_name != new_name else None
            found.append(ItemDiff("task", new_name, status, new[new_name].span, previous, changes))
    return tuple(sorted(found, key=lambda i: i.name)), renames


def _task_fields(task: TaskModel, fingerprint: str | None) -> dict[str, str]:
    retry = str(task.retries)
    if (task.retry_delay_s, task.backoff) != (RETRY_DELAY_S, RETRY_BACKOFF):
        retry += f" (delay {task.retry_delay_s:g} s, backoff {task.backoff:g})"
    if task.retry_on:
        retry += f" on {', '.join(task.retry_on)}"
    return {
        "module": f"{task.module}.{task.function}",
        "inputs": ", ".join(f"{i.param}={i.dataset}" for i in task.inputs) or "none",
        "outputs": ", ".join(task.outputs) or "none",
        "compute": _compute_text(task.compute),
        "retries": retry,
        "timeout": "none" if task.timeout is None else f"{task.timeout:g} s",
        "parameters": ", ".join(
            f"{p.name}{': ' + p.annotation if p.annotation else ''} = {p.default}"
            for p in task.parameters
        )
        or "none",
        "code": (fingerprint or "unknown")[:12],
    }


def _compute_text(compute: ComputeModel | None) -> str:
    if compute is None:
        return "default"
    parts = [compute.kind, f"{compute.memory_mb} MB"]
    if compute.timeout_s is not None:
        parts.append(f"timeout {compute.timeout_s} s")
    for label, value in (("cpu", compute.cpu), ("tmp", compute.tmp_mb), ("image", compute.image)):
        if value is not None:
            parts.append(f"{label} {value}")
    return ", ".join(parts)


def _dataset_diffs(
    before: PipelineModel, after: PipelineModel, renames: Mapping[str, str]
) -> tuple[ItemDiff, ...]:
    old = {d.name: d for d in before.datasets}
    new = {d.name: d for d in after.datasets}
    old_producers, new_producers = before.producers(), after.producers()
    found: list[ItemDiff] = []
    for name in sorted(old.keys() | new.keys()):
        if name not in new:
            found.append(ItemDiff("dataset", name, "removed", old[name].span))
        elif name not in old:
            found.append(ItemDiff("dataset", name, "added", new[name].span))
        else:
            changes = _fields(
                _dataset_fields(old[name], old_producers), _dataset_fields(new[name], new_producers)
            )
            if changes:
                found.append(ItemDiff("dataset", name, "changed", new[name].span, None, changes))
    return tuple(found)


def _dataset_fields(dataset: DatasetModel, producers: Mapping[str, str]) -> dict[str, str]:
    return {
        "storage": _storage_text(dataset.storage),
        "type": dataset.payload or "Any",
        "role": "produced" if dataset.name in producers else "source",
        "copy": "per consumer" if dataset.copy else "shared",
    }


def _storage_text(storage: StorageModel | None) -> str:
    if storage is None:
        return "ephemeral"
    parts = [storage.kind]
    for name in ("bucket", "name", "prefix", "format", "table", "url", "environment", "resource"):
        value = getattr(storage, name)
        if value:
            parts.append(f"{name}={value}")
    if storage.existing:
        parts.append("existing")
    return " ".join(parts)


def edge_set(model: PipelineModel, renames: Mapping[str, str]) -> set[tuple[str, str, str]]:
    return {
        (e.kind, renames.get(e.source, e.source), renames.get(e.target, e.target))
        if e.kind == "writes"
        else (e.kind, e.source, renames.get(e.target, e.target))
        for e in edges(model)
    }


def _edge_changes(
    before: PipelineModel, after: PipelineModel, renames: Mapping[str, str]
) -> tuple[EdgeChange, ...]:
    old = edge_set(before, renames)
    new = edge_set(after, {})
    return tuple(
        [EdgeChange("removed", *e) for e in sorted(old - new)]
        + [EdgeChange("added", *e) for e in sorted(new - old)]
    )


def _affected(
    model: PipelineModel,
    tasks: Iterable[ItemDiff],
    datasets: Iterable[ItemDiff],
    edge_changes: Iterable[EdgeChange],
) -> tuple[str, ...]:
    """The tasks downstream of a change (in ``model``, the head) that did not change."""
    tasks = list(tasks)
    changed = {t.name for t in tasks if t.status != "removed"}
    seeds = {t.name for t in tasks if t.status == "added" or t.changes}  # not a mere rename
    consumers = model.consumers()
    pending = [c for d in datasets for c in consumers.get(d.name, ())]
    pending += [e.target for e in edge_changes if e.kind == "reads"]
    pending += [c for e in edge_changes if e.kind == "writes" for c in consumers.get(e.target, ())]
    for name in seeds:
        pending += [c for out in model.task(name).outputs for c in consumers.get(out, ())]
    reached: set[str] = set()
    known = {t.name for t in model.tasks}
    while pending:
        name = pending.pop()
        if name in reached or name not in known:
            continue
        reached.add(name)
        pending += [c for out in model.task(name).outputs for c in consumers.get(out, ())]
    return tuple(sorted(reached - changed))


def _environment_diffs(
    base: Revision, head: Revision, before: str, after: str, renames: Mapping[str, str]
) -> tuple[EnvironmentDiff, ...]:
    old_grants = base.grants.get(before, {})
    new_grants = head.grants.get(after, {})
    compared = base.resources is not None and head.resources is not None
    old_res = base.resources.get(before, {}) if compared and base.resources else {}
    new_res = head.resources.get(after, {}) if compared and head.resources else {}
    found = []
    for env in sorted({*old_grants, *new_grants, *old_res, *new_res}):
        grants = _grant_changes(old_grants.get(env, {}), new_grants.get(env, {}), renames)
        was, now = set(old_res.get(env, ())), set(new_res.get(env, ()))
        if grants or was != now:
            found.append(
                EnvironmentDiff(env, grants, tuple(sorted(now - was)), tuple(sorted(was - now)))
            )
    return tuple(found)


def _grant_changes(old: Grants, new: Grants, renames: Mapping[str, str]) -> tuple[GrantChange, ...]:
    was: dict[tuple[str, str], set[str]] = {}
    for task, pairs in old.items():
        for resource, action in pairs:
            was.setdefault((renames.get(task, task), resource), set()).add(action)
    now: dict[tuple[str, str], set[str]] = {}
    for task, pairs in new.items():
        for resource, action in pairs:
            now.setdefault((task, resource), set()).add(action)
    found = []
    for key in sorted(was.keys() | now.keys()):
        added = tuple(sorted(now.get(key, set()) - was.get(key, set())))
        removed = tuple(sorted(was.get(key, set()) - now.get(key, set())))
        if added or removed:
            found.append(GrantChange(key[0], key[1], added, removed))
    return tuple(found)


# -- JSON ---------------------------------------------------------------------------------------


def _span(span: Span) -> dict[str, Any]:
    return {"file": span.file, "line": span.line, "column": span.column}


def _changes(changes: Iterable[FieldChange]) -> list[dict[str, str]]:
    return [{"field": c.field, "before": c.before, "after": c.after} for c in changes]


def _item_dict(item: ItemDiff) -> dict[str, Any]:
    return {
        "name": item.name,
        "status": item.status,
        "previous": item.previous,
        "span": _span(item.span),
        "changes": _changes(item.changes),
    }


def _pipeline_dict(p: PipelineDiff) -> dict[str, Any]:
    return {
        "name": p.name,
        "status": p.status,
        "previous": p.previous,
        "span": _span(p.span),
        "changes": _changes(p.changes),
        "tasks": [_item_dict(t) for t in p.tasks],
        "datasets": [_item_dict(d) for d in p.datasets],
        "edges": [
            {"status": e.status, "kind": e.kind, "source": e.source, "target": e.target}
            for e in p.edges
        ],
        "affected": list(p.affected),
        "environments": [
            {
                "name": env.name,
                "grants": [
                    {
                        "task": g.task,
                        "resource": g.resource,
                        "added": list(g.added),
                        "removed": list(g.removed),
                    }
                    for g in env.grants
                ],
                "resources": {
                    "added": [{"type": t, "name": n} for t, n in env.resources_added],
                    "removed": [{"type": t, "name": n} for t, n in env.resources_removed],
                },
            }
            for env in p.environments
        ],
    }
