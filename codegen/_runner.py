"""``run_local.py``: the standalone local runner of one pipeline.

Its fixed code is the module ``codegen/embedded/run_local.py``, pasted verbatim around what
the template writes for the pipeline. It carries the sliced task code of every project module
the tasks need (see ``_slice``) and glacier_local's ``_io`` and ``_schedule`` sources, read
from their files at build time, so the runner stores and schedules exactly like
``LocalExecutor``.

Why carry the modules inside the one file rather than beside it: a single artifact to review,
copy and check (``--check`` compares one file), nothing stale can linger next to it, and
the user's original files stay the place tracebacks point to (the slice keeps line numbers).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Mapping
from typing import Any

from codegen._graph_data import storage_dict, tasks_in_order
from codegen._slice import carried_modules
from codegen._templates import render
from codegen.embedded import parts
from glacier.fingerprint import ModuleFacts, code_fingerprints, module_facts
from glacier.model import PipelineModel, StorageModel
from glacier.storage.kinds import LOCAL_FIELDS

__all__ = ["RUNTIME_MODULES", "emit_runner", "package_dir", "runtime_sources", "task_fingerprints"]

# name inside the runner -> (package, file of it) embedded under that name
RUNTIME_MODULES = {
    "_glacier_io": ("glacier_local", "_io.py"),
    "_glacier_params": ("glacier", "params.py"),
    "_glacier_runlog": ("glacier_local", "_runlog.py"),
    "_glacier_schedule": ("glacier_local", "_schedule.py"),
}


def package_dir(package: str) -> str:
    """The directory of an installed package of the distribution, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{package} is not installed; it is part of the glacier distribution")
    return next(iter(spec.submodule_search_locations))


def runtime_sources() -> dict[str, str]:
    """The embedded runtime: glacier_local's self-contained modules and ``glacier.params``,
    read from disk."""
    sources = {}
    for name, (package, file) in RUNTIME_MODULES.items():
        with open(os.path.join(package_dir(package), file), encoding="utf-8") as fh:
            sources[name] = fh.read()
    return sources


def _io_storage(storage: StorageModel | None) -> dict[str, Any] | None:
    data = storage_dict(storage)
    if data is None:
        return None
    return {k: v for k, v in data.items() if k in LOCAL_FIELDS}


def _relative(path: str, start: str) -> str:
    try:
        return os.path.relpath(path, start).replace(os.sep, "/")
    except ValueError:  # another drive on Windows
        return os.path.abspath(path).replace(os.sep, "/")


def _import_root(name: str, path: str, package: bool) -> str:
    """The directory ``name`` is imported from: the file's directory minus its packages."""
    folder = os.path.dirname(os.path.abspath(path))
    depth = name.count(".") + (1 if package else 0)
    for _ in range(depth):
        folder = os.path.dirname(folder)
    return folder


def task_fingerprints(model: PipelineModel, modules: Mapping[str, Any]) -> dict[str, str | None]:
    """Task name -> its code fingerprint (``None``: its function cannot be found).

    ``modules`` is the analyzed project (``Analysis.modules``: module name -> ``ModuleInfo``).
    The facts of a module (``glacier.fingerprint.module_facts``, an ``ast`` reading of its text)
    are computed here, only for the modules that carry the tasks and the project modules they
    use, transitively: ``glacier check`` never needs them. The same function of the same texts
    as ``LocalExecutor`` computes from the live tasks' files, so the runner and the executor
    reuse each other's work."""

    def facts(name: str) -> ModuleFacts | None:  # called once per module (the index keeps it)
        info = modules.get(name)
        if info is None:
            return None
        return module_facts(info.source, info.name, os.path.basename(info.path) == "__init__.py")

    codes = code_fingerprints(((t.module, t.function) for t in model.tasks), facts)
    return {t.name: code for t, code in zip(model.tasks, codes, strict=True)}


def _source_digests(carried: Any, out_dir: str) -> dict[str, str]:
    """Each carried module's file, relative to ``out_dir``, and the SHA-256 of its bytes."""
    digests = {}
    for m in carried:
        try:
            with open(m.path, "rb") as fh:
                digests[_relative(m.path, out_dir)] = hashlib.sha256(fh.read()).hexdigest()
        except OSError:  # not a file on disk (an analysis of in-memory text): nothing to compare
            continue
    return dict(sorted(digests.items()))


def emit_runner(
    model: PipelineModel,
    modules: Mapping[str, Any],
    *,
    out_dir: str,
    build_dir: str,
    source_file: str,
    runtime: Mapping[str, str] | None = None,
) -> str:
    """The runner's text. ``out_dir`` is the absolute directory it will be written to."""
    tasks = tasks_in_order(model)
    carried = carried_modules(modules, [t.module for t in tasks])
    roots: list[str] = []
    for m in carried:
        root = _relative(_import_root(m.name, m.path, m.package), out_dir)
        if root not in roots:
            roots.append(root)
    runtime = runtime_sources() if runtime is None else runtime
    produced = model.producers() if model.check_payloads else {}
    fingerprints = task_fingerprints(model, modules)
    return render(
        "run_local.py.j2",
        pipeline=model.name,
        build_dir=build_dir,
        source_file=source_file,
        tasks=[
            {
                "name": t.name,
                "module": t.module,
                "function": t.function,
                "inputs": [(i.param, i.dataset) for i in t.inputs],
                "outputs": list(t.outputs),
                "returns_tuple": t.returns_tuple,
                "retries": t.retries,
                "timeout": t.timeout,
                "retry_delay_s": t.retry_delay_s,
                "backoff": t.backoff,
                "retry_on": list(t.retry_on),
                "parameters": [[p.name, p.annotation, p.default] for p in t.parameters],
                "fingerprint": fingerprints[t.name],
            }
            for t in tasks
        ],
        datasets=[{"name": d.name, "storage": _io_storage(d.storage)} for d in model.datasets],
        payloads={
            d.name: (d.payload, d.module, f"{d.span.file}:{d.span.line}")
            for d in model.datasets
            if d.payload is not None and d.name in produced
        },
        shared=[d.name for d in model.datasets if not d.copy],
        import_roots=sorted(roots),
        modules=[
            {
                "name": m.name,
                "path": _relative(m.path, out_dir),
                "package": m.package,
                "source": m.source,
            }
            for m in carried
        ],
        sources=_source_digests(carried, out_dir),
        runtime=[{"name": k, "source": runtime[k]} for k in sorted(runtime)],
        embedded=parts("run_local.py"),
    )
