"""``__main__.py`` of an environment's Pulumi program: what goes in, in which order.

Every value reaches the template as a Python literal (``repr``) or as an expression built
here from identifiers the analyzer read from the user's code (checked with
``is_identifier``), so no name or string a user writes can change the program's structure.
"""

from __future__ import annotations

import hashlib
import re
import sys
from dataclasses import dataclass
from typing import Any

from codegen._graph_data import tasks_in_order
from codegen._names import is_identifier
from codegen._templates import _py, render
from codegen.aws._asl import (
    function_timeout_s,
    machine_file,
    started_children,
    state_machines,
    tasks_run,
)
from codegen.aws._database import access_of, is_table, task_tables
from codegen.aws._infra import DEFAULT_ENV, Block
from glacier.model import DatasetModel, PipelineModel, StorageModel, TaskModel
from glacier.storage.kinds import kind_of

__all__ = ["component_name", "program_text"]

_COMPONENT = re.compile(r"[^A-Za-z0-9_-]+")
_MAX_COMPONENT = 40
_DEFAULT_TAGS = {"glacier:environment": DEFAULT_ENV, "managed-by": "glacier"}
_FIRST_PARTY = frozenset({"glacier", "glacier_aws"})


def component_name(*parts: str) -> str:
    """A glacier_aws component name: 1-40 of ``[A-Za-z0-9_-]``, stable and readable.

    Too long or changed by sanitising: a short hash of the original keeps names unique.
    """
    original = "-".join(parts)
    text = _COMPONENT.sub("-", original).strip("-_") or "glacier"
    if not text[0].isalnum():
        text = "g" + text
    if text != original or len(text) > _MAX_COMPONENT:
        digest = hashlib.sha1(original.encode("utf-8")).hexdigest()[:6]
        text = f"{text[: _MAX_COMPONENT - 7].rstrip('-_')}-{digest}"
    return text


@dataclass(frozen=True, slots=True)
class _Import:
    section: int  # 0 stdlib, 1 third party, 2 first party
    plain: bool  # `import x` (sorted before `from x import y`)
    module: str
    text: str


def _import_of(module: str, plain: bool, text: str) -> _Import:
    """``module``: what ``text`` imports, or imports from (``..m`` for a relative import)."""
    top = module.lstrip(".").split(".")[0]
    if top in sys.stdlib_module_names:
        section = 0
    elif top in _FIRST_PARTY or module.startswith("."):
        section = 2
    else:
        section = 1
    return _Import(section, plain, module, text.rstrip("\n"))


def _imports(imports: list[tuple[str, bool, str]]) -> list[list[str]]:
    """``(module, plain, text)`` imports, deduplicated, in isort's sections and order."""
    seen: dict[str, _Import] = {}
    for module, plain, text in imports:
        imp = _import_of(module, plain, text)
        seen.setdefault(imp.text, imp)
    sections: list[list[str]] = [[], [], []]
    for imp in sorted(seen.values(), key=lambda i: (i.section, not i.plain, i.module, i.text)):
        sections[imp.section].append(imp.text)
    return sections


def _env_variable(model: PipelineModel, env: str) -> str | None:
    for e in model.environments:
        if e.name == env and e.variable and is_identifier(e.variable):
            return e.variable
    return None


def _variable(storage: StorageModel) -> str | None:
    """The storage's module-level variable, when it can be pasted into the program."""
    return storage.variable if storage.variable and is_identifier(storage.variable) else None


def _bucket_expr(dataset: DatasetModel) -> str | None:
    """The bucket name of a dataset stored in S3, as a program expression; None: scratch."""
    storage = dataset.storage
    if storage is None:
        return None
    kind = kind_of(storage)
    assert kind.bucket_field is not None
    named = getattr(storage, kind.bucket_field)
    if kind.pipeline_bucket:
        return _py(named)  # the program creates it with exactly this name
    # infrastructure's bucket (`Environment.s3`, a raw Pulumi bucket): its variable's `bucket`
    # is the name (Pulumi may have named it)
    variable = _variable(storage)
    return f"{variable}.bucket" if variable else _py(named)


def _export_expr(dataset: DatasetModel) -> str:
    storage = dataset.storage
    assert storage is not None
    variable = _variable(storage)
    if _described(storage) and variable:
        return f"{variable}.resource.bucket"
    return _bucket_expr(dataset) or "None"


def _location(dataset: DatasetModel) -> str:
    bucket = _bucket_expr(dataset)
    storage = dataset.storage
    args = [_py(dataset.name)]
    if bucket is not None:
        args.append(f"bucket={bucket}")
    if storage is not None and storage.prefix:
        args.append(f"prefix={_py(storage.prefix)}")
    if storage is not None and _described(storage) and _variable(storage):
        # the bucket's SSE-KMS key, if any (None otherwise): its tasks need to use it
        args.append(f"kms_key={_variable(storage)}.kms_key_arn")
    # the template indents it by 8 and adds the comma
    return _call("glacier_deploy.DatasetLocation", args, 8, ",")[8:-1]


def _described(storage: StorageModel) -> bool:
    """Storage an ``Environment`` declared: its variable is a ``glacier_aws`` described resource
    (``.resource``, ``.kms_key_arn``)."""
    return kind_of(storage).placement == "environment"


def _call(head: str, args: list[str], indent: int, tail: str = "") -> str:
    """``head(args)`` at ``indent``, wrapped the way ``ruff format`` wraps it at 100 columns."""
    pad = " " * indent
    flat = f"{pad}{head}({', '.join(args)}){tail}"
    if len(flat) <= 100:
        return flat
    inner = f"{pad}    {', '.join(args)}"
    if len(inner) <= 100:
        return f"{pad}{head}(\n{inner}\n{pad}){tail}"
    lines = "".join(f"{pad}    {arg},\n" for arg in args)
    return f"{pad}{head}(\n{lines}{pad}){tail}"


def _bucket_entries(
    data_buckets: list[str], existing_buckets: list[str], logs: list[str]
) -> dict[str, list[str]]:
    """The entries of ``glacier_buckets`` (created) and ``glacier_existing_buckets`` (looked up)."""
    created = [
        _call(
            f"{_py(b)}: glacier_deploy.data_bucket",
            [_py(b), "tags=glacier_tags", "provider=glacier_provider", *logs],
            4,
            ",",
        )
        for b in data_buckets
    ]
    existing = [
        _call(
            f"{_py(b)}: glacier_deploy.existing_bucket",
            [_py(b), "provider=glacier_provider"],
            4,
            ",",
        )
        for b in existing_buckets
    ]
    return {"created": created, "existing": existing}


_URL_SECRET = "glacier_database_url"
"""The program's ``DatabaseUrlSecret`` (the stack secret ``glacier:databaseUrl``)."""


def _rds_variable(dataset: DatasetModel) -> str | None:
    """The module-level variable of an ``Environment.rds`` storage the program can use."""
    storage = dataset.storage
    if storage is None or access_of(dataset) != "rds":
        return None
    return _variable(storage)


def _database_vars(tables: list[DatasetModel]) -> list[str]:
    """The program variables of the databases a task reaches, each once, in a stable order.

    ``Environment.rds`` storage the program cannot name (not bound to a plain variable)
    and ``Database(table=...)`` read the URL secret; ``Database(url=...)`` needs nothing.
    """
    found: list[str] = []
    for dataset in tables:
        access = access_of(dataset)
        if access == "literal":
            continue
        rds = _rds_variable(dataset)
        found.append(f"glacier_rds_{rds}" if rds else _URL_SECRET)
    return sorted(set(found))


def _rds_accesses(model: PipelineModel, tasks: list[dict[str, Any]]) -> list[dict[str, str]]:
    """One ``RdsAccess`` per ``Environment.rds`` instance a task reaches."""
    used = {v for t in tasks for v in t["databases"]}
    found: dict[str, dict[str, str]] = {}
    for dataset in model.datasets:
        rds = _rds_variable(dataset) if is_table(dataset) else None
        if rds is None or f"glacier_rds_{rds}" not in used or rds in found:
            continue
        assert dataset.storage is not None
        found[rds] = {
            "var": f"glacier_rds_{rds}",
            "name": component_name(model.name, "db", str(dataset.storage.name or rds)),
            "database": rds,
        }
    return [found[k] for k in sorted(found)]


def _task_context(
    model: PipelineModel, task: TaskModel, index: int, datasets: dict[str, DatasetModel]
) -> dict[str, Any]:
    tables = task_tables(task, datasets)
    ins = [datasets[i.dataset] for i in task.inputs if i.dataset in datasets]
    outs = [datasets[o] for o in task.outputs if o in datasets]
    compute = task.compute
    container = compute is not None and compute.kind == "container"
    readable = f"glacier_task_{task.name}"
    context: dict[str, Any] = {
        "index": index,
        # the task's name when it is a plain identifier, else its position
        "var": readable if is_identifier(readable) else f"glacier_task_{index}",
        "name": task.name,
        "resource": component_name(model.name, task.name),
        "component": "FargateTask" if container else "LambdaTask",
        "container": container,
        "reads": [_location(d) for d in ins if not is_table(d)],
        "writes": [_location(d) for d in outs if not is_table(d)],
        "databases": _database_vars(tables),
        "network": bool(tables),
    }
    if container:
        assert compute is not None
        context.update(
            # the user's image as is, or the one the program builds from bundle/Dockerfile
            image=_py(compute.image) if compute.image else "glacier_image.image_uri",
            built_image=not compute.image,
            cpu=compute.cpu or 256,
            memory_mb=compute.memory_mb,
        )
    else:
        memory = compute.memory_mb if compute is not None else 512
        tmp = compute.tmp_mb if compute is not None else None
        context.update(memory_mb=memory, timeout_s=function_timeout_s(task), tmp_mb=tmp)
    return context


def _is_definition(text: str) -> bool:
    return text.lstrip().startswith(("def ", "async def ", "class ", "@"))


def _joined(blocks: list[Block]) -> str:
    """Statements in the given order; those adjacent in the source stay adjacent, the others
    are one blank line apart, or two around a function or class (as the formatter wants)."""
    out = ""
    previous: Block | None = None
    for block in blocks:
        text = block.text.rstrip("\n")
        if previous is not None:
            if block.line == previous.end_line + 1 and block.file == previous.file:
                out += "\n"
            elif _is_definition(text) or _is_definition(previous.text):
                out += "\n\n\n"
            else:
                out += "\n\n"
        out += text
        previous = block
    return out


def _sections(blocks: list[Block]) -> list[dict[str, str]]:
    """Runs of statements from one file, in dependency order, each under a header."""
    runs: list[list[Block]] = []
    for block in blocks:
        if runs and runs[-1][-1].file == block.file:
            runs[-1].append(block)
        else:
            runs.append([block])
    return [
        {
            "rule": _rule(f"infrastructure from {run[0].file} (verbatim)"),
            # the formatter wants two blank lines between the header and a definition
            "text": ("\n" if _is_definition(run[0].text) else "") + _joined(run),
        }
        for run in runs
    ]


def _listed(words: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return " and ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)


def _rule(title: str) -> str:
    """``# -- title ------``, 99 columns wide (the project's line length is 100)."""
    head = f"# -- {title} "
    return head + "-" * max(3, 99 - len(head))


def _machine_contexts(
    model: PipelineModel, task_contexts: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The state machines to create, each child before the machines that start it: the
    pipeline's one, or a parent and its children when one machine would be too large
    (``codegen.aws._asl.state_machines``). Each gets the tasks it runs itself."""
    machines = state_machines(model)
    var_of = {child: f"glacier_state_machine_{child}" for child in machines.children}
    contexts = []
    for child, definition in machines.all().items():
        runs = tasks_run(definition)
        tasks = [t for t in task_contexts if t["name"] in runs]
        contexts.append(
            {
                "var": var_of.get(child, "glacier_state_machine"),
                "name": component_name(model.name, child) if child else component_name(model.name),
                "file": machine_file(child or None),
                "tasks": tasks,
                "children": [(c, var_of[c]) for c in started_children(definition)],
                "containers": any(t["container"] for t in tasks),
                "database_containers": any(t["network"] and t["container"] for t in tasks),
                "plain_containers": any(not t["network"] and t["container"] for t in tasks),
            }
        )
    return contexts


def program_text(
    model: PipelineModel,
    env: str,
    blocks: list[Block],
    *,
    deploys: bool,
    source_file: str,
    handler: str,
) -> str:
    """The text of ``pulumi/<env>/__main__.py``."""
    own: list[tuple[str, bool, str]] = []
    if deploys:
        own = [
            ("pathlib", True, "import pathlib"),
            ("pulumi", True, "import pulumi"),
            ("glacier_aws", False, "from glacier_aws import deploy as glacier_deploy"),
        ]
    user_imports = [(b.import_module, b.import_plain, b.text) for b in blocks if b.is_import]
    datasets = {d.name: d for d in model.datasets}
    task_contexts = [
        _task_context(model, t, i + 1, datasets) for i, t in enumerate(tasks_in_order(model))
    ]
    used: set[str] = set()
    for context in task_contexts:  # a name like `1` next to a non-identifier at position 1
        while context["var"] in used:
            context["var"] += "_"
        used.add(context["var"])
    stored = [d for d in model.datasets if d.storage is not None and not is_table(d)]
    object_storage = [d.storage for d in stored if d.storage and kind_of(d.storage).pipeline_bucket]
    # a bucket any dataset calls existing is never created: another system owns it
    existing_buckets = sorted({s.bucket for s in object_storage if s.bucket and s.existing})
    data_buckets = sorted(
        {s.bucket for s in object_storage if s.bucket and s.bucket not in existing_buckets}
    )
    bucket_exports = [(_py(d.name), _export_expr(d)) for d in stored] if deploys else []
    env_var = _env_variable(model, env)
    containers = any(t["container"] for t in task_contexts)
    network = any(t["network"] for t in task_contexts)
    endpoints = ["S3", *(["ECR", "CloudWatch Logs"] if containers else [])]
    endpoints += ["Secrets Manager"] if network else []
    # the environment's S3 server access log bucket, for the buckets the deployment makes
    logs = ["access_logs=glacier_access_logs"] if env_var else []
    import_block = "\n\n".join(
        "\n".join(lines) for lines in _imports([*own, *user_imports]) if lines
    )
    return render(
        "aws/__main__.py.j2",
        source_file=source_file,
        env=env,
        deploys=deploys,
        pipeline=model.name,
        schedule=model.schedule,
        imports=import_block,
        sections=_sections([b for b in blocks if not b.is_import]),
        deploy_rule=_rule("the deployment of the pipeline"),
        tags=f"{env_var}.default_tags" if env_var else _py(_DEFAULT_TAGS),
        provider=f"{env_var}.provider" if env_var else "None",
        access_logs=f"{env_var}.access_logs" if env_var else None,
        scratch_call=_call(
            "glacier_scratch = glacier_deploy.ScratchBucket",
            [_py(component_name(model.name, "scratch")), "tags=glacier_tags", *logs]
            + ["opts=glacier_opts"],
            0,
        ),
        bundle_call=_call(
            "glacier_bundle = glacier_deploy.LambdaBundle",
            [_py(component_name(model.name, "bundle")), "tags=glacier_tags", *logs]
            + ["opts=glacier_opts"],
            0,
        ),
        cluster_name=component_name(model.name, "cluster"),
        image_name=component_name(model.name, "image"),
        machine_name=component_name(model.name),
        schedule_name=component_name(model.name),
        buckets=_bucket_entries(data_buckets, existing_buckets, logs),
        functions=any(not t["container"] for t in task_contexts),
        built_image=any(t.get("built_image") for t in task_contexts),
        network=network,
        endpoints=_listed(endpoints),
        network_name=component_name(model.name, "network"),
        plain_containers=any(not t["network"] and t["container"] for t in task_contexts),
        container_network_name=component_name(model.name, "containers"),
        rds_accesses=_rds_accesses(model, task_contexts),
        url_secret=any(_URL_SECRET in t["databases"] for t in task_contexts),
        url_secret_var=_URL_SECRET,
        url_secret_name=component_name(model.name, "database-url"),
        containers=containers,
        tasks=task_contexts,
        machines=_machine_contexts(model, task_contexts) if deploys else [],
        handler=handler,
        bucket_exports=bucket_exports,
    )
