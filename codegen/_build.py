"""What ``glacier build`` produces: per pipeline, a set of (relative path, bytes).

Emitters are functions of a ``BuildContext`` returning ``{relative path: text}``; the local
ones give ``manifest.json``, ``graph.mmd`` and ``run_local.py``, and each deployment target
(``codegen._targets``) adds its programs (AWS: ``pulumi/<env>/``). The writer and ``--check``
treat every file alike.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from codegen._graph import emit_mermaid
from codegen._manifest import emit_manifest
from codegen._names import dir_name
from codegen._runner import emit_runner, runtime_sources
from codegen._targets import DeploymentTarget
from codegen._targets import targets as targets_available
from glacier.model import PipelineModel

__all__ = ["BuildContext", "DirectoryClash", "PipelineArtifacts", "build"]


@dataclass(frozen=True, slots=True)
class BuildContext:
    """What an emitter may read: the model, the analysis (module sources) and where it goes."""

    model: PipelineModel
    modules: Mapping[str, Any]
    out_dir: str
    """The absolute build output directory (``build/``)."""
    dir_name: str
    """The pipeline's directory under ``out_dir``."""
    version: str
    runtime: Mapping[str, str] | None = None

    @property
    def pipeline_dir(self) -> str:
        return os.path.join(self.out_dir, self.dir_name)

    @property
    def source_file(self) -> str:
        return self.model.span.file


Emitter = Callable[[BuildContext], Mapping[str, str]]


def core_artifacts(ctx: BuildContext) -> dict[str, str]:
    return {
        "manifest.json": emit_manifest(ctx.model, version=ctx.version),
        "graph.mmd": emit_mermaid(ctx.model, source_file=ctx.source_file),
        "run_local.py": emit_runner(
            ctx.model,
            ctx.modules,
            out_dir=ctx.pipeline_dir,
            build_dir=ctx.dir_name,
            source_file=ctx.source_file,
            runtime=ctx.runtime,
        ),
    }


@dataclass(frozen=True, slots=True)
class PipelineArtifacts:
    pipeline: str
    dir_name: str
    source_file: str
    files: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DirectoryClash:
    """Two pipelines whose names map to the same build directory."""

    dir_name: str
    first: PipelineModel
    second: PipelineModel


def build(
    pipelines: Sequence[PipelineModel],
    modules: Mapping[str, Any],
    *,
    out_dir: str,
    version: str,
    targets: Sequence[DeploymentTarget] | None = None,
    local: bool = True,
) -> tuple[list[PipelineArtifacts], list[DirectoryClash]]:
    """Render every artifact of every pipeline in memory; nothing is written here.

    ``local``: the manifest, graph and standalone runner; ``targets``: each deployment
    target's files too (``None``: every target available, ``codegen.targets()``).
    """
    if targets is None:
        targets = list(targets_available().values())
    emitters: list[Emitter] = [core_artifacts] if local else []
    emitters += [t.artifacts for t in targets]
    out_dir = os.path.abspath(out_dir)
    runtime = None
    artifacts: list[PipelineArtifacts] = []
    clashes: list[DirectoryClash] = []
    taken: dict[str, PipelineModel] = {}
    for model in sorted(pipelines, key=lambda p: (p.name, p.span)):
        name = dir_name(model.name)
        key = name.casefold()  # case-insensitive file systems would merge them
        if key in taken:
            clashes.append(DirectoryClash(name, taken[key], model))
            continue
        taken[key] = model
        if runtime is None:  # read once, and only when there is a pipeline to build
            runtime = runtime_sources()
        ctx = BuildContext(model, modules, out_dir, name, version, runtime)
        files: dict[str, bytes] = {}
        for emitter in emitters:
            for path, text in emitter(ctx).items():
                if path in files:
                    raise ValueError(f"two emitters both produce `{path}`")
                files[path] = text.encode("utf-8")
        artifacts.append(PipelineArtifacts(model.name, name, model.span.file, files))
    return artifacts, clashes
