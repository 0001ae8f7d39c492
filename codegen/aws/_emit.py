"""``pulumi/<env>/``: one Pulumi program per environment of a pipeline's modules.

Files of each program (paths relative to ``build/<pipeline>/``):

- ``Pulumi.yaml`` and ``Pulumi.<env>.yaml`` (project, runtime; the environment's region and
  allowed account, or a comment saying the default stack takes them from its configuration);
- ``requirements.txt``: pinned ``pulumi`` and ``pulumi-aws`` (and ``pulumi-docker-build`` where
  the program builds the image of ``Container`` tasks);
- ``__main__.py``: the environment's infrastructure statements, verbatim, and, in the
  environment that holds the pipeline's storage, its deployment through ``glacier_aws``;
- ``glacier/`` and ``glacier_aws/``: those packages' sources, vendored. Glacier is not on a
  package index, and a program must run where only ``pip install -r requirements.txt`` ran;
  vendoring also pins the exact component code the program was generated against (the same
  way the local runner carries glacier_local's ``_io``);
- ``statemachine.asl.json`` and ``bundle/`` (pipeline environment only).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from codegen._runner import package_dir
from codegen._templates import render
from codegen.aws._asl import machines_json, state_machines
from codegen.aws._bundle import HANDLER, bundle_files
from codegen.aws._infra import DEFAULT_ENV, Block, Placement, place_infrastructure
from glacier.model import DatasetModel, PipelineModel
from glacier.storage.kinds import kind_of

__all__ = [
    "PINNED",
    "PipelineHome",
    "emit_programs",
    "pipeline_home",
    "program_modules",
    "vendored_sources",
]

PINNED = {
    "pulumi": "3.272.0",
    "pulumi-aws": "7.51.1",
    "pulumi-docker-build": "0.0.22",
    "typing_extensions": "4.16.0",
}
"""What a generated program installs; the test suite checks these are the versions it ran.
``pulumi-docker-build`` only where the program builds the image of ``Container`` tasks."""

# files of the glacier package a program needs (the mypy plugin is not)
_GLACIER_EXCLUDED_DIRS = frozenset({"__pycache__"})
_GLACIER_EXCLUDED_FILES = frozenset({"mypy.py"})
_PROJECT = re.compile(r"[^A-Za-z0-9_.-]+")


def _modules_of(analysis: Any) -> Mapping[str, Any]:
    modules = analysis.modules if hasattr(analysis, "modules") else analysis
    if isinstance(modules, Mapping):
        return modules
    return {m.name: m for m in modules}


def program_modules(model: PipelineModel, modules: Mapping[str, Any]) -> list[str]:
    """The modules whose infrastructure the pipeline's programs carry.

    The pipeline's own modules (pipeline, tasks, datasets, environments) and every project
    module they import, directly or not: infrastructure often lives in a module of its own.
    """
    from codegen.aws._infra import imported_project_modules

    names = {model.module}
    names |= {t.module for t in model.tasks}
    names |= {d.module for d in model.datasets}
    names |= {e.module for e in model.environments}
    names |= {d.storage.module for d in model.datasets if d.storage and d.storage.module}
    pending = sorted(names)
    while pending:
        name = pending.pop()
        for found in imported_project_modules(name, modules):
            if found not in names:
                names.add(found)
                pending.append(found)
    return sorted(n for n in names if n in modules)


@dataclass(frozen=True, slots=True)
class PipelineHome:
    """Where the pipeline is deployed, or why that cannot be decided."""

    environment: str | None
    spans: tuple[str, ...] = ()
    """The environments the storage uses, when more than one (a diagnostic)."""
    datasets: tuple[tuple[str, str], ...] = ()
    """(dataset, environment) for every dataset whose storage belongs to an environment."""
    ambiguous: bool = False
    """Several environments are declared and the storage names none."""


def _storage_env(
    dataset: DatasetModel, placement: Placement, modules: Mapping[str, Any]
) -> str | None:
    storage = dataset.storage
    if storage is None:
        return None
    where = kind_of(storage).placement
    if where == "environment":
        return storage.environment
    if where == "resource":
        if storage.environment:
            return storage.environment
        if storage.variable and storage.module:
            return placement.variable_env(storage.module, storage.variable, modules) or DEFAULT_ENV
        return DEFAULT_ENV
    return None  # ObjectStorage and Database are provider-agnostic: they go where it goes


def pipeline_home(
    model: PipelineModel, modules: Mapping[str, Any], placement: Placement | None = None
) -> PipelineHome:
    if placement is None:
        placement = place_infrastructure(model, modules, program_modules(model, modules))
    pairs = []
    for dataset in model.datasets:
        env = _storage_env(dataset, placement, modules)
        if env is not None:
            pairs.append((dataset.name, env))
    envs = sorted({env for _, env in pairs})
    if len(envs) > 1:
        return PipelineHome(None, tuple(envs), tuple(pairs))
    if envs:
        return PipelineHome(envs[0], (), tuple(pairs))
    declared = sorted(e.name for e in model.environments)
    if not declared:
        return PipelineHome(DEFAULT_ENV)
    if len(declared) == 1:
        return PipelineHome(declared[0])
    return PipelineHome(None, (), (), ambiguous=True)


def vendored_sources() -> dict[str, str]:
    """``glacier/...`` and ``glacier_aws/...`` sources a program carries, read from disk."""
    files: dict[str, str] = {}
    for package in ("glacier", "glacier_aws"):
        folder = package_dir(package)
        for here, dirs, names in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if d not in _GLACIER_EXCLUDED_DIRS)
            for name in sorted(names):
                if not name.endswith(".py") or (
                    package == "glacier" and here == folder and name in _GLACIER_EXCLUDED_FILES
                ):
                    continue
                rel = os.path.relpath(os.path.join(here, name), folder).replace(os.sep, "/")
                with open(os.path.join(here, name), encoding="utf-8") as fh:
                    files[f"{package}/{rel}"] = fh.read()
    return files


def _project_name(pipeline: str, env: str) -> str:
    text = _PROJECT.sub("-", f"{pipeline}-{env}").strip("-.") or "glacier"
    return text[:100]


def _yaml_str(value: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(value, ensure_ascii=True)


def _pulumi_yaml(model: PipelineModel, env: str, source_file: str, deploys: bool) -> str:
    what = (
        f"Pipeline `{model.name}` on AWS ({env})"
        if deploys
        else f"Infrastructure of environment `{env}` (pipeline `{model.name}` is not deployed here)"
    )
    if model.description and deploys:
        what += f": {model.description}"
    return render(
        "aws/Pulumi.yaml.j2",
        source_file=_yaml_str(source_file),
        name=_yaml_str(_project_name(model.name, env)),
        description=_yaml_str(what),
    )


def _stack_yaml(model: PipelineModel, env: str, source_file: str) -> str:
    environment = next((e for e in model.environments if e.name == env), None)
    tags = {"glacier:environment": env, "managed-by": "glacier"}
    if environment is not None:
        tags.update(dict(environment.tags))
    return render(
        "aws/Pulumi.stack.yaml.j2",
        source_file=_yaml_str(source_file),
        env=environment,
        region=_yaml_str(environment.region) if environment else None,
        account=_yaml_str(environment.account) if environment else None,
        tags=[(_yaml_str(k), _yaml_str(v)) for k, v in tags.items()],
    )


def _builds_image(model: PipelineModel) -> bool:
    """Whether the program builds an image: a ``Container`` task names none of its own."""
    return any(
        t.compute and t.compute.kind == "container" and not t.compute.image for t in model.tasks
    )


def _requirements(builds_image: bool) -> str:
    wanted = {k: v for k, v in PINNED.items() if builds_image or k != "pulumi-docker-build"}
    lines = [
        "# Generated by `glacier build`: what this Pulumi program installs (pip install -r).",
        "# glacier and glacier_aws are vendored beside __main__.py; they need typing_extensions.",
        *(f"{name}=={version}" for name, version in sorted(wanted.items())),
    ]
    return "\n".join(lines) + "\n"


def emit_programs(analysis: Any, model: PipelineModel) -> dict[str, bytes]:
    """Every file of every environment's program, ``pulumi/<env>/...`` -> bytes."""
    modules = _modules_of(analysis)
    module_names = program_modules(model, modules)
    placement = place_infrastructure(model, modules, module_names)
    home = pipeline_home(model, modules, placement)
    roots: dict[str, list[tuple[str, str]]] = {}
    if home.environment is not None:
        roots[home.environment] = [
            (d.storage.module, d.storage.variable)
            for d in model.datasets
            if d.storage is not None
            and kind_of(d.storage).infrastructure
            and d.storage.module
            and d.storage.variable
        ]
        placement = place_infrastructure(model, modules, module_names, roots)
    envs = {e.name for e in model.environments} | set(placement.environments)
    if not model.environments or home.environment == DEFAULT_ENV:
        envs.add(DEFAULT_ENV)
    source_file = model.span.file
    files: dict[str, str] = {}
    vendored = vendored_sources()
    for env in sorted(envs):
        base = f"pulumi/{env}/"
        deploys = env == home.environment
        blocks = placement.environments.get(env, [])
        files[base + "Pulumi.yaml"] = _pulumi_yaml(model, env, source_file, deploys)
        files[base + f"Pulumi.{env}.yaml"] = _stack_yaml(model, env, source_file)
        files[base + "requirements.txt"] = _requirements(deploys and _builds_image(model))
        files[base + "__main__.py"] = _program(model, env, blocks, deploys, source_file)
        for rel, text in vendored.items():
            files[base + rel] = text
        if deploys:
            for rel, text in machines_json(state_machines(model)).items():
                files[base + rel] = text
            for rel, text in bundle_files(model, modules, source_file=source_file).items():
                files[base + "bundle/" + rel] = text
    return {path: text.encode("utf-8") for path, text in sorted(files.items())}


def _program(
    model: PipelineModel, env: str, blocks: list[Block], deploys: bool, source_file: str
) -> str:
    from codegen.aws._program import program_text

    return program_text(
        model, env, blocks, deploys=deploys, source_file=source_file, handler=HANDLER
    )


def aws_artifacts(ctx: Any) -> dict[str, str]:
    """The ``codegen._build`` emitter: ``emit_programs`` for a ``BuildContext``."""
    files = emit_programs(ctx.modules, ctx.model)
    return {path: data.decode("utf-8") for path, data in files.items()}
