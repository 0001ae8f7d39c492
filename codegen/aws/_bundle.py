"""``bundle/``: the code a deployed task runs, and nothing else.

- the task modules, sliced exactly as for the local runner (``codegen._slice``): glacier
  declarations and infrastructure are left out, line numbers kept;
- ``_glacier_params.py``: ``glacier.params``, verbatim, so deployed tasks read run parameters
  as local runs do;
- ``_glacier_io.py``: glacier_local's storage module, verbatim, so deployed tasks store
  datasets in the same formats as local runs;
- ``glacier_handler.py``: the Lambda handler and container entry point (its fixed code is the
  module ``codegen/embedded/glacier_handler.py``);
- ``requirements.txt``: the third-party distributions the task code imports;
- ``glacier_sources.json`` (``SOURCES_RECORD``): each source file the task modules were sliced
  from (relative to the project root) and the SHA-256 of its bytes at build time, so that
  ``glacier plan`` and ``glacier rehearse`` can tell a built bundle whose sources changed since
  (a ``pulumi up`` of it would deploy the old code);
- ``Dockerfile`` (pipelines with ``Container`` tasks): the image the program builds for them.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from codegen._graph_data import tasks_in_order
from codegen._runner import _io_storage, runtime_sources
from codegen._slice import SlicedModule, carried_modules
from codegen._targets import SOURCES_RECORD
from codegen._templates import render
from codegen.embedded import parts
from glacier.model import PipelineModel, TaskModel
from glacier.storage.kinds import is_table

__all__ = [
    "BASE_IMAGE",
    "HANDLER",
    "bundle_files",
    "task_roots",
    "third_party_requirements",
]

BASE_IMAGE = "public.ecr.aws/docker/library/python:3.12-slim"
"""The Dockerfile's base: Docker's official ``python:3.12-slim`` from its ECR Public mirror."""
HANDLER = "glacier_handler.handler"
"""The Lambda handler of every task (``GLACIER_TASK`` names the task)."""

# Import names that are never a requirement of the bundle.
_PROVIDED = frozenset(
    {"__future__", "_glacier_io", "_glacier_params", "glacier_handler", "boto3", "botocore"}
)


def task_roots(model: PipelineModel) -> list[str]:
    return sorted({t.module for t in model.tasks})


def _is_container(task: TaskModel) -> bool:
    return task.compute is not None and task.compute.kind == "container"


def _bundle_path(module: SlicedModule) -> str:
    base = module.name.replace(".", "/")
    return f"{base}/__init__.py" if module.package else f"{base}.py"


def _imported_top_names(module: SlicedModule) -> set[str]:
    """The top-level names of the modules the sliced code imports (a relative import's is the
    project's own package)."""
    return {name.split(".")[0] for name in module.imports}


def _storage_needs(storages: Sequence[Mapping[str, Any] | None], imported: set[str]) -> set[str]:
    """Import names ``_glacier_io`` itself needs for these datasets, beyond the task code's.

    A table in a deployed database is reached through psycopg; Parquet (explicit, or the
    format local runs choose for DataFrames when pyarrow is installed) needs pyarrow. Without
    them a deployed task fails on import, or stores DataFrames as pickle where local runs
    wrote Parquet.
    """
    needs: set[str] = set()
    for storage in storages:
        if storage is None:
            continue
        if is_table(storage):
            needs.add("psycopg")
        if str(storage.get("format") or "").lower() in ("parquet", "pq"):
            needs.add("pyarrow")
    if imported & {"pandas", "polars"} and importlib.util.find_spec("pyarrow") is not None:
        needs.add("pyarrow")
    return needs


def third_party_requirements(
    sliced: list[SlicedModule],
    project: Mapping[str, Any],
    storages: Sequence[Mapping[str, Any] | None] = (),
) -> list[str]:
    """Requirement lines for the distributions the sliced task code imports, and those its
    datasets' storage needs (``storages``: ``_glacier_io`` descriptions).

    Pinned to the version installed where ``glacier build`` runs (that is the version the
    code was tested with); an import no installed distribution provides is listed by name.
    """
    local = {name.split(".")[0] for name in project}
    names: set[str] = set()
    for module in sliced:
        names |= _imported_top_names(module)
    names = {
        n
        for n in names
        if n not in sys.stdlib_module_names and n not in local and n not in _PROVIDED
    }
    names |= _storage_needs(storages, names)
    distributions = importlib.metadata.packages_distributions()
    lines: set[str] = set()
    for name in names:
        dists = distributions.get(name)
        if not dists:
            extra = "[binary]" if name == "psycopg" else ""
            lines.add(f"{name}{extra}  # not installed where `glacier build` ran: version unknown")
            continue
        for dist in dists:
            # psycopg needs libpq, which Lambda lacks: its binary extra bundles it.
            extra = "[binary]" if dist.lower() == "psycopg" else ""
            lines.add(f"{dist}{extra}=={importlib.metadata.version(dist)}")
    return sorted(lines, key=str.lower)


def _requirements_text(lines: list[str]) -> str:
    head = [
        "# Third-party distributions the task code imports, and those its datasets' storage",
        "# needs: psycopg for tables, pyarrow for Parquet (generated by `glacier build`).",
        "# `glacier build --package` installs them into this directory for AWS Lambda.",
        "# boto3 comes with the Lambda runtime; container images need it installed.",
    ]
    return "\n".join([*head, *lines]) + "\n"


def _sources_record(sliced: Sequence[SlicedModule], modules: Mapping[str, Any]) -> str:
    """``SOURCES_RECORD``'s text: each sliced module's file, relative to the project root
    (the analysis's ``ModuleInfo.file``), and the SHA-256 of its bytes (a module that is not a
    file on disk, an analysis of in-memory text, has nothing to compare and is left out)."""
    digests = {}
    for m in sliced:
        info = modules.get(m.name)
        if info is None or info.path != m.path:
            continue
        try:
            with open(m.path, "rb") as fh:
                digests[info.file] = hashlib.sha256(fh.read()).hexdigest()
        except OSError:
            continue
    return json.dumps(dict(sorted(digests.items())), indent=2) + "\n"


def bundle_files(
    model: PipelineModel, modules: Mapping[str, Any], *, source_file: str
) -> dict[str, str]:
    """Relative path under ``bundle/`` -> text."""
    sliced = carried_modules(modules, task_roots(model))
    files = {_bundle_path(m): m.source for m in sliced}
    runtime = runtime_sources()
    files["_glacier_io.py"] = runtime["_glacier_io"]
    files["_glacier_params.py"] = runtime["_glacier_params"]
    tasks = [
        {
            "name": t.name,
            "module": t.module,
            "function": t.function,
            "inputs": tuple((i.param, i.dataset) for i in t.inputs),
            "outputs": tuple(t.outputs),
            "retry_on": t.retry_on if t.retries and not _is_container(t) else (),
        }
        for t in tasks_in_order(model)
    ]
    storages = [(d.name, _io_storage(d.storage)) for d in model.datasets]
    files["glacier_handler.py"] = render(
        "aws/glacier_handler.py.j2",
        pipeline=model.name,
        source_file=source_file,
        tasks=tasks,
        storages=storages,
        modules=[(m.name, _bundle_path(m), m.package) for m in sliced],
        retry_on={t["name"]: t["retry_on"] for t in tasks if t["retry_on"]},
        parameters={
            t.name: tuple((p.name, p.annotation, p.default) for p in t.parameters)
            for t in tasks_in_order(model)
            if t.parameters
        },
        embedded=parts("glacier_handler.py"),
    )
    files[SOURCES_RECORD] = _sources_record(sliced, modules)
    files["requirements.txt"] = _requirements_text(
        third_party_requirements(sliced, modules, [s for _, s in storages])
    )
    if any(t.compute and t.compute.kind == "container" for t in model.tasks):
        # A user's `Container(image=...)` is never pasted here: that image is used as is.
        files["Dockerfile"] = render(
            "aws/Dockerfile.j2", source_file=json.dumps(source_file), base=BASE_IMAGE
        )
    return files
