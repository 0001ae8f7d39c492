"""``glacier check --param``: the run parameters that no task of a checked pipeline has."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from analyzer.diagnostics import Diagnostic, UnknownRunParameter
from glacier.model import PipelineModel
from glacier.params import unknown_keys

__all__ = ["unknown_parameters"]


def unknown_parameters(pipelines: Sequence[PipelineModel], keys: Iterable[str]) -> list[Diagnostic]:
    """A ``GLC210`` for each key (``n``, ``rank.n``) that sets nothing in any of
    ``pipelines``, at the first pipeline's declaration (a key one pipeline has is fine: a
    run is of one pipeline)."""
    if not pipelines:
        return []
    keys = list(keys)
    unknown = set(keys)
    for pipeline in pipelines:
        tasks = [(t.name, [p.name for p in t.parameters]) for t in pipeline.tasks]
        unknown &= set(unknown_keys(tasks, keys))
    first = min(pipelines, key=lambda p: (p.span, p.name))
    names = ", ".join(f"`{p.name}`" for p in sorted(pipelines, key=lambda p: p.name))
    which = f"pipeline{'s' * (len(pipelines) > 1)} {names}"
    known = sorted(
        {f"`{t.name}.{p.name}`" for m in pipelines for t in m.tasks for p in t.parameters}
    )
    return [
        UnknownRunParameter.make_at(
            first.span, key=key, pipelines=which, known=", ".join(known) or "none"
        )
        for key in keys
        if key in unknown
    ]
