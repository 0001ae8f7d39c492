"""What keeps a pipeline from being deployed, as diagnostics (``GLC3xx``).

They are found while placing infrastructure and storage into environments, so they live next
to that code; they are ``analyzer.Diagnostic`` records like every other finding.

- ``GLC301 storage-spans-environments`` (error): the datasets of one pipeline are stored in
  two environments; one state machine cannot run in two accounts.
- ``GLC302 pipeline-environment-ambiguous`` (error): several environments are declared and
  the pipeline's storage names none of them, so no program can tell it deploys the pipeline.
- ``GLC303 infrastructure-spans-environments`` (warning): one infrastructure statement uses
  two environments (``env_a.provider`` and ``env_b.s3(...)``); it goes with the first one.
- ``GLC304 infrastructure-name-unresolved`` (warning): an infrastructure statement uses a
  name no statement of its module binds; the generated program would fail on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from codegen.aws._emit import _modules_of, pipeline_home, program_modules
from codegen.aws._infra import place_infrastructure
from glacier.model import PipelineModel

__all__ = ["CODES", "deployment_diagnostics"]

CODES: dict[str, tuple[str, str]] = {
    "GLC301": ("storage-spans-environments", "error"),
    "GLC302": ("pipeline-environment-ambiguous", "error"),
    "GLC303": ("infrastructure-spans-environments", "warning"),
    "GLC304": ("infrastructure-name-unresolved", "warning"),
}


def _make(code: str, message: str, hint: str, path: str, line: int, column: int) -> Any:
    from analyzer import Diagnostic

    name, severity = CODES[code]
    return Diagnostic(
        code=code,
        name=name,
        severity=severity,  # type: ignore[arg-type]
        message=message,
        hint=hint,
        path=path,
        line=line,
        column=column,
        end_line=line,
        end_column=column,
    )


def deployment_diagnostics(analysis: Any, model: PipelineModel) -> list[Any]:
    """Diagnostics about deploying ``model``, sorted by location."""
    modules: Mapping[str, Any] = _modules_of(analysis)
    placement = place_infrastructure(model, modules, program_modules(model, modules))
    home = pipeline_home(model, modules, placement)
    found = []
    span = model.span
    if home.spans:
        where = ", ".join(f"`{d}` in `{e}`" for d, e in home.datasets)
        found.append(
            _make(
                "GLC301",
                f"the storage of pipeline `{model.name}` spans environments "
                + ", ".join(f"`{e}`" for e in home.spans)
                + f": {where}",
                "store every dataset of a pipeline in one environment; move data between "
                "accounts with a separate pipeline in each",
                span.file,
                span.line,
                span.column,
            )
        )
    if home.ambiguous:
        envs = ", ".join(f"`{e.name}`" for e in model.environments)
        found.append(
            _make(
                "GLC302",
                f"pipeline `{model.name}` stores no dataset in an environment, and several "
                f"are declared ({envs})",
                "store at least one of its datasets with `env.s3(...)` of the environment "
                "that should run it",
                span.file,
                span.line,
                span.column,
            )
        )
    for _module, file, line, envs in placement.conflicts:
        found.append(
            _make(
                "GLC303",
                "this infrastructure statement uses environments "
                + " and ".join(f"`{e}`" for e in envs)
                + f"; it is deployed with `{envs[0]}`",
                "give each resource the provider of one environment "
                "(`opts=pulumi.ResourceOptions(provider=env.provider)`)",
                file,
                line,
                1,
            )
        )
    for _module, file, line, name in placement.unresolved:
        found.append(
            _make(
                "GLC304",
                f"`{name}` is used by this infrastructure statement but no statement of its "
                "module binds it",
                "define or import it at module level in the same module, before this statement",
                file,
                line,
                1,
            )
        )
    return sorted(set(found), key=lambda d: d.sort_key())
