"""What keeps a pipeline from being deployed, as diagnostics (``GLC3xx``).

They are found while placing infrastructure and storage into environments, so they live next
to that code; they are ``analyzer.Diagnostic`` records like every other finding, made by their
rule classes (declared with the others in ``analyzer.diagnostics``).

- ``GLC301 storage-spans-environments`` (error): the datasets of one pipeline are stored in
  two environments; one state machine cannot run in two accounts.
- ``GLC302 pipeline-environment-ambiguous`` (error): several environments are declared and
  the pipeline's storage names none of them, so no program can tell it deploys the pipeline.
- ``GLC303 infrastructure-spans-environments`` (warning): one infrastructure statement uses
  two environments (``env_a.provider`` and ``env_b.s3(...)``); it goes with the first one.
- ``GLC304 infrastructure-name-unresolved`` (warning): an infrastructure statement uses a
  name no statement of its module binds; the generated program would fail on it.
- ``GLC305 bundle-too-large`` (error, ``glacier build --package``): the packaged bundle of a
  pipeline with Lambda tasks is over Lambda's 250 MB unzipped quota.
- ``GLC306 invalid-bucket-name`` (warning): an ``ObjectStorage`` bucket name S3 refuses (the
  constructor only asks for a non-empty name: locally it is a directory); the program could
  not create it, or find it when it is ``existing=True``.
- ``GLC307 state-machine-too-large`` (error): the pipeline's Step Functions definition is over
  the 1 MB AWS accepts (about 1,800 tasks), or nests Parallel states deeper than Glacier writes.
- ``GLC308 task-policy-too-large`` (error): a task reads or writes so many stored datasets
  that its role's policy would be over IAM's 10,240 characters; ``pulumi up`` would fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from analyzer.diagnostics import (
    BundleTooLarge,
    Diagnostic,
    InfrastructureNameUnresolved,
    InfrastructureSpansEnvironments,
    InvalidBucketName,
    PipelineEnvironmentAmbiguous,
    Rule,
    StateMachineTooLarge,
    StorageSpansEnvironments,
    TaskPolicyTooLarge,
)
from codegen.aws._asl import definition_problem
from codegen.aws._emit import _modules_of, pipeline_home, program_modules
from codegen.aws._infra import place_infrastructure
from codegen.aws._policies import task_policy_size
from glacier import validate
from glacier.model import PipelineModel
from glacier.storage.kinds import kind_of
from glacier_aws.grants import ROLE_POLICY_LIMIT

__all__ = ["CODES", "bundle_size_diagnostics", "deployment_diagnostics", "size_text"]

_RULES: tuple[type[Rule], ...] = (
    StorageSpansEnvironments,
    PipelineEnvironmentAmbiguous,
    InfrastructureSpansEnvironments,
    InfrastructureNameUnresolved,
    BundleTooLarge,
    InvalidBucketName,
    StateMachineTooLarge,
    TaskPolicyTooLarge,
)
"""The rules of deployment findings; their names, messages and hints are declared in
``analyzer.diagnostics``."""
CODES = tuple(rule.code for rule in _RULES)


def deployment_diagnostics(analysis: Any, model: PipelineModel) -> list[Diagnostic]:
    """Diagnostics about deploying ``model``, sorted by location."""
    modules: Mapping[str, Any] = _modules_of(analysis)
    placement = place_infrastructure(model, modules, program_modules(model, modules))
    home = pipeline_home(model, modules, placement)
    found: list[Diagnostic] = []
    at = model.span
    if home.spans:
        found.append(
            StorageSpansEnvironments.make_at(
                at,
                pipeline=model.name,
                environments=", ".join(f"`{e}`" for e in home.spans),
                where=", ".join(f"`{d}` in `{e}`" for d, e in home.datasets),
            )
        )
    if home.ambiguous:
        environments = ", ".join(f"`{e.name}`" for e in model.environments)
        found.append(
            PipelineEnvironmentAmbiguous.make_at(at, pipeline=model.name, environments=environments)
        )
    for _module, file, line, envs in placement.conflicts:
        found.append(
            InfrastructureSpansEnvironments.make(
                file,
                line,
                1,
                environments=" and ".join(f"`{e}`" for e in envs),
                first=envs[0],
            )
        )
    for _module, file, line, name in placement.unresolved:
        found.append(InfrastructureNameUnresolved.make(file, line, 1, name=name))
    found.extend(_bucket_names(model))
    if home.environment is not None:  # where the state machine would be deployed
        problem = definition_problem(model)
        if problem is not None:
            found.append(StateMachineTooLarge.make_at(at, pipeline=model.name, why=problem))
        region = next((e.region for e in model.environments if e.name == home.environment), None)
        found.extend(_task_policies(model, region))
    # the message last: two findings at one place (two unknown names) in a stable order
    return sorted(set(found), key=lambda d: (d.sort_key(), d.message))


def _task_policies(model: PipelineModel, region: str | None) -> list[Diagnostic]:
    """GLC308 for each task whose role's policy IAM would refuse, deployed to ``region``."""
    datasets = {d.name: d for d in model.datasets}
    found = []
    for task in model.tasks:
        size = task_policy_size(model, task, datasets, region)
        if size > ROLE_POLICY_LIMIT:
            touched = len({*(i.dataset for i in task.inputs), *task.outputs})
            found.append(
                TaskPolicyTooLarge.make_at(
                    task.span,
                    task=task.name,
                    size=f"{size:,}",
                    limit=f"{ROLE_POLICY_LIMIT:,}",
                    datasets=touched,
                )
            )
    return found


def size_text(size: int) -> str:
    """``271.3 MB`` (the MB, MiB, of AWS's quotas), or ``12.5 KB`` below one MB."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    return f"{size / 1024:.1f} KB"


def bundle_size_diagnostics(bundle: str, model: PipelineModel, size: Any) -> list[Diagnostic]:
    """``GLC305`` when the packaged ``bundle`` of ``model`` cannot be deployed on Lambda.

    ``size`` is the bundle's ``BundleSize``. A pipeline without Lambda tasks is not limited:
    its bundle only goes into a container image.
    """
    from glacier_aws import archive

    lambdas = [t for t in model.tasks if not (t.compute and t.compute.kind == "container")]
    if not lambdas or size.unzipped <= archive.LAMBDA_UNZIPPED_LIMIT:
        return []
    largest = archive.package_sizes(bundle)[:5]
    return [
        BundleTooLarge.make_at(
            model.span,
            pipeline=model.name,
            size=size_text(size.unzipped),
            limit=size_text(archive.LAMBDA_UNZIPPED_LIMIT),
            largest=", ".join(f"`{name}` {size_text(n)}" for name, n in largest),
        )
    ]


def _bucket_names(model: PipelineModel) -> list[Diagnostic]:
    """GLC306 for each dataset whose ``ObjectStorage`` bucket S3 would refuse."""
    found = []
    for dataset in model.datasets:
        storage = dataset.storage
        if storage is None or not kind_of(storage).pipeline_bucket or not storage.bucket:
            continue
        rule = validate.existing_s3_bucket if storage.existing else validate.s3_bucket
        error = rule(storage.bucket)
        if error is not None:
            found.append(
                InvalidBucketName.make_at(
                    dataset.span,
                    bucket=storage.bucket,
                    dataset=dataset.name,
                    action="find" if storage.existing else "create",
                    detail=str(error),
                )
            )
    return found
