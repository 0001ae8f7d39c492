"""The runtime path's half of the contract: a live ``Pipeline`` → ``PipelineModel``.

The static path (``analyzer``) must produce the same model by reading the source; the test
suite compares the two on every example.
"""

from __future__ import annotations

import inspect
import weakref
from types import CodeType
from typing import Any

from glacier._dataset import Dataset
from glacier._pipeline import Pipeline, Task
from glacier.compute import Container, Serverless
from glacier.model import (
    ComputeModel,
    DatasetModel,
    EnvironmentModel,
    InputModel,
    ParameterModel,
    PipelineModel,
    Span,
    StorageModel,
    TaskModel,
)
from glacier.source import CallSite, payload_text_at, relative_file
from glacier.storage.kinds import RAW_RESOURCE

__all__ = ["dataset_span", "pipeline_model", "register_environment", "task_span"]

# Environments created in this process (glacier_aws registers them), in creation order.
_ENVIRONMENTS: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()


def register_environment(environment: Any) -> None:
    """Called by providers' ``Environment`` so ``to_model()`` can list environments.

    The object must have ``name``, ``account``, ``region``, ``tags`` and ``_site`` (a
    ``CallSite``).
    """
    _ENVIRONMENTS[id(environment)] = environment


def _span(site: CallSite) -> Span:
    return Span(relative_file(site.filename), site.line, site.col + 1)


def dataset_span(dataset: Dataset[Any]) -> Span:
    """Where the dataset is declared (its ``Dataset(...)`` call)."""
    return _span(dataset._site)


class _Variables:
    """``variable_in`` for many objects: each module's globals indexed once, not scanned per
    object (a module of 10,000 tasks has 20,000 globals)."""

    def __init__(self) -> None:
        self._index: dict[int, dict[int, str]] = {}

    def name_in(self, namespace: dict[str, Any], obj: object) -> str | None:
        index = self._index.get(id(namespace))
        if index is None:
            index = {}
            for key, value in namespace.items():
                if not key.startswith("__"):
                    index.setdefault(id(value), key)
            self._index[id(namespace)] = index
        return index.get(id(obj))


def pipeline_model(pipeline: Pipeline) -> PipelineModel:
    site = pipeline._site
    variables = _Variables()
    tasks = [_task_model(t) for t in pipeline.tasks]
    datasets = [_dataset_model(d, variables) for d in pipeline.datasets]
    modules = {site.module()} | {t.module for t in tasks} | {d.module for d in datasets}
    referenced = {d.storage.environment for d in datasets if d.storage and d.storage.environment}
    environments = [
        _environment_model(env)
        for env in list(_ENVIRONMENTS.values())
        if env._site.module() in modules or env.name in referenced
    ]
    return PipelineModel.create(
        name=pipeline.name,
        module=site.module(),
        variable=site.variable_for(pipeline),
        schedule=pipeline.schedule,
        description=pipeline.description,
        span=_span(site),
        datasets=datasets,
        tasks=tasks,
        check_payloads=pipeline.check_payloads,
        environments=environments,
    )


def _task_model(task: Task) -> TaskModel:
    from glacier.source import module_name_for

    code, name, span = _written(task)
    return TaskModel(
        name=task.name,
        function=name,
        module=module_name_for(code.co_filename),
        inputs=tuple(InputModel(param, ds.name) for param, ds in task.inputs),
        outputs=tuple(ds.name for ds in task.outputs),
        compute=_compute_model(task.compute),
        retries=task.retries,
        timeout=float(task.timeout) if task.timeout is not None else None,
        span=span,
        retry_delay_s=task.retry_delay_s,
        backoff=task.backoff,
        retry_on=tuple(cls.__name__ for cls in task.retry_on),
        parameters=task_parameters(task, code.co_filename, span.line, name),
    )


def task_parameters(task: Task, filename: str, line: int, name: str) -> tuple[ParameterModel, ...]:
    """The task's run parameters: its parameters with a default that are not datasets, in
    signature order, annotation and default as the source writes them (``def`` at ``line``)."""
    from glacier.source import parameter_texts

    inputs = {param for param, _ in task.inputs}
    try:
        signature = inspect.signature(task.function)
    except (TypeError, ValueError):
        return ()
    texts = parameter_texts(filename, line, name)
    found = []
    for param in signature.parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.default is param.empty or param.name in inputs:
            continue
        annotation, default = texts.get(param.name, (None, repr(param.default)))
        found.append(ParameterModel(param.name, annotation, default))
    return tuple(found)


def task_span(task: Task) -> Span:
    """Where the task's function is defined (its ``def``), as the static path locates it."""
    return _written(task)[2]


def _written(task: Task) -> tuple[CodeType, str, Span]:
    """The code, name and ``def`` of the function the user wrote, under any
    ``functools.wraps``-style wrappers: its ``def`` is what the static path reads."""
    from glacier.source import def_line

    function = inspect.unwrap(task.function)
    code = getattr(function, "__code__", None) or task.function.__code__
    name = getattr(function, "__name__", task.function.__name__)
    line, column = def_line(code.co_filename, code.co_firstlineno, name)
    return code, name, Span(relative_file(code.co_filename), line, column)


def _compute_model(compute: Serverless | Container | None) -> ComputeModel | None:
    if compute is None:
        return None
    if isinstance(compute, Serverless):
        return ComputeModel(
            "serverless", compute.memory_mb, compute.timeout_s, tmp_mb=compute.tmp_mb
        )
    return ComputeModel("container", compute.memory_mb, None, compute.image, compute.cpu)


def _dataset_model(dataset: Dataset[Any], variables: _Variables) -> DatasetModel:
    site = dataset._site
    return DatasetModel(
        name=dataset.name,
        module=site.module(),
        variable=variables.name_in(site.globals, dataset),
        payload=payload_text_at(site.filename, site.line, site.col),
        storage=storage_model(dataset.storage, site, variables),
        span=_span(site),
        copy=dataset.copy,
    )


def storage_model(
    storage: Any, site: CallSite | None = None, variables: _Variables | None = None
) -> StorageModel | None:
    """Describe a dataset's ``storage=`` value; ``site`` is where the dataset was declared."""
    if storage is None:
        return None
    variable = None
    if site is not None:
        variable = (variables or _Variables()).name_in(site.globals, storage)
    module = site.module() if site is not None and variable is not None else None
    describe = getattr(storage, "__glacier_storage__", None)
    if describe is not None:
        fields: dict[str, Any] = describe()
        return StorageModel(**fields, variable=variable, module=module)
    resource = pulumi_resource_class(storage)
    if resource is not None:
        return StorageModel(
            RAW_RESOURCE.name,
            name=getattr(storage, "_name", None),
            resource=resource,
            variable=variable,
            module=module,
        )
    raise TypeError(
        f"unsupported storage {storage!r}: use ObjectStorage, Database, Environment.s3()/.rds() "
        "or a Pulumi resource"
    )


def pulumi_resource_class(obj: Any) -> str | None:
    """``pulumi_aws.s3.Bucket`` for a pulumi_aws Bucket, without importing pulumi."""
    cls = type(obj)
    if not any(
        base.__module__ == "pulumi.resource" and base.__name__ == "Resource" for base in cls.__mro__
    ):
        return None
    module = cls.__module__
    if module.startswith("pulumi_") and module.count(".") >= 2:
        module = module.rsplit(".", 1)[0]  # pulumi_aws.s3.bucket -> pulumi_aws.s3
    return f"{module}.{cls.__name__}"


def _environment_model(env: Any) -> EnvironmentModel:
    site: CallSite = env._site
    return EnvironmentModel(
        name=env.name,
        account=env.account,
        region=env.region,
        module=site.module(),
        variable=site.variable_for(env),
        tags=tuple(sorted((str(k), str(v)) for k, v in (env.tags or {}).items())),
        span=_span(site),
    )
