# The fixed part of every generated `glacier_handler.py` (a deployed bundle's AWS Lambda
# handler and container entry point), as a real module: type-checked, linted and unit-tested
# here, then embedded verbatim by `codegen.aws._bundle` (`codegen.embedded.parts`). Only the
# text inside the `# --- embedded: NAME ---` sections is embedded: the template
# `codegen/templates/aws/glacier_handler.py.j2` writes the part that varies per pipeline (the
# header, the task table, the storage of each dataset) between `head` and `body`, and imports
# `_glacier_io`, the copy of glacier_local's `_io` the bundle carries. The
# `# --- not embedded ---` section stands in for that part here: tests fill it in.
# The embedded text imports the standard library and `_glacier_io` only (boto3 where it is
# used: the Lambda runtime provides it).
# --- embedded: head ---
"""AWS entry point of this pipeline's tasks.

- AWS Lambda: handler ``glacier_handler.handler``, the task named by ``GLACIER_TASK``, the
  execution by the event's ``execution`` (Step Functions passes ``$$.Execution.Name``), the
  execution's input by its ``input``.
- Containers (ECS Fargate): ``python -m glacier_handler TASK``, the execution in
  ``GLACIER_EXECUTION``, its input in ``GLACIER_INPUT`` (JSON).

Run parameters come from the execution's input, ``{"params": {"n": 5, "rank.n": 7}}``
(keys and values as ``glacier run --param`` takes them, ``_glacier_params`` being
``glacier.params`` embedded); a child machine's input holds its parent's as
``glacier_parent``. A key no task has, or a value its parameter's annotation cannot take,
fails the task with ``ParameterError``.

Each input is read from its storage, each output written to it, in the formats of local runs
(``_glacier_io`` is glacier_local's own storage module, embedded at build time): an object
``<prefix>/<dataset>.<ext>`` in S3 instead of a file under ``.glacier/data/<bucket>/``.
Ephemeral datasets live in the scratch bucket under ``<execution>/``.

Environment: ``GLACIER_SCRATCH_BUCKET``; ``GLACIER_BUCKETS`` (JSON, dataset -> bucket name,
for buckets whose name is only known at deploy time). Tables are reached through Secrets
Manager, never a password in the environment:

- ``Environment.rds``: ``GLACIER_DATABASE_SECRET_ARN`` (the instance's managed master-user
  secret, JSON ``username`` and ``password``), ``GLACIER_DATABASE_HOST``,
  ``GLACIER_DATABASE_PORT``, ``GLACIER_DATABASE_NAME``; TLS is required
  (``GLACIER_DATABASE_SSLMODE``, default ``require``; empty leaves it to the driver);
- ``Database(table=...)``: ``GLACIER_DATABASE_URL_SECRET_ARN``, a secret whose value is the URL;
- ``Database(url=...)``: the URL as written in the pipeline.
"""

from __future__ import annotations

import __future__
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import types
import urllib.parse
from collections.abc import Sequence
from typing import Any

# --- not embedded ---
# What the template writes in place of this section, for one pipeline. Here `_glacier_io` is
# glacier_local's `_io` itself, the module the bundle carries a copy of: mypy checks the calls.
from glacier import params as _glacier_params
from glacier_local import _io as _glacier_io

PIPELINE = ""

HERE = os.path.dirname(os.path.abspath(__file__))

MODULES: dict[str, tuple[str, bool]] = {}

TASKS: dict[str, tuple[str, str, tuple[tuple[str, str], ...], tuple[str, ...]]] = {}

STORAGE: dict[str, dict[str, Any] | None] = {}

RETRY_ON: dict[str, tuple[str, ...]] = {}
PARAMETERS: dict[str, tuple[tuple[str, str | None, str], ...]] = {}


# --- embedded: body ---
class _TaskCode(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports the sliced task modules with postponed annotations, as the local runner does.

    Task signatures name datasets, whose declarations the slice leaves out: evaluated
    annotations would fail on them. Line numbers are the user's own.
    """

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MODULES:
            return None
        file, package = MODULES[fullname]
        origin = os.path.join(HERE, file)
        locations = [os.path.dirname(origin)] if package else None
        return importlib.util.spec_from_file_location(
            fullname, origin, loader=self, submodule_search_locations=locations
        )

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        origin = module.__spec__.origin if module.__spec__ else None
        assert origin is not None
        with open(origin, encoding="utf-8") as fh:
            source = fh.read()
        flags = __future__.annotations.compiler_flag
        exec(compile(source, origin, "exec", flags=flags, dont_inherit=True), module.__dict__)


if not any(isinstance(finder, _TaskCode) for finder in sys.meta_path):
    sys.meta_path.insert(0, _TaskCode())


def _s3() -> Any:
    import boto3  # provided by the Lambda runtime; AWS_ENDPOINT_URL_S3 is honoured

    return boto3.client("s3")


def _where(dataset: str, execution: str) -> dict[str, Any]:
    """The dataset's object storage with its real bucket name (scratch when ephemeral)."""
    storage = STORAGE[dataset]
    if storage is None:
        scratch = os.environ["GLACIER_SCRATCH_BUCKET"]
        return {"kind": "object", "bucket": scratch, "prefix": execution}
    buckets = json.loads(os.environ.get("GLACIER_BUCKETS") or "{}")
    bucket = buckets.get(dataset) or storage.get("bucket") or storage.get("name")
    return {**storage, "kind": "object", "bucket": bucket}


def _key_prefix(storage: dict[str, Any]) -> str:
    parts = [p for p in str(storage.get("prefix") or "").split("/") if p and p != "."]
    return "".join(p + "/" for p in parts)


_SECRETS: dict[str, str] = {}


def _secret(arn: str) -> str:
    """A secret's value, fetched once per process (AWS_ENDPOINT_URL is honoured)."""
    if arn not in _SECRETS:
        import boto3

        client = boto3.client("secretsmanager")
        _SECRETS[arn] = client.get_secret_value(SecretId=arn)["SecretString"]
    return _SECRETS[arn]


def _rds_url() -> str:
    """``postgresql://`` URL of the RDS instance, from its managed master-user secret."""
    credentials = json.loads(_secret(os.environ["GLACIER_DATABASE_SECRET_ARN"]))
    user = urllib.parse.quote(str(credentials["username"]), safe="")
    password = urllib.parse.quote(str(credentials["password"]), safe="")
    host = os.environ["GLACIER_DATABASE_HOST"]
    port = os.environ.get("GLACIER_DATABASE_PORT") or "5432"
    name = urllib.parse.quote(os.environ.get("GLACIER_DATABASE_NAME") or "postgres", safe="")
    sslmode = os.environ.get("GLACIER_DATABASE_SSLMODE", "require")
    query = "?" + urllib.parse.urlencode({"sslmode": sslmode}) if sslmode else ""
    return f"postgresql://{user}:{password}@{host}:{port}/{name}{query}"


def _table(storage: dict[str, Any]) -> dict[str, Any]:
    """The table's storage with the URL of its database."""
    if storage.get("url"):  # `Database(url=...)`: the pipeline's own choice
        return storage
    rds = storage.get("kind") == "rds"
    if rds and os.environ.get("GLACIER_DATABASE_SECRET_ARN"):
        return {**storage, "url": _rds_url()}
    arn = os.environ.get("GLACIER_DATABASE_URL_SECRET_ARN")
    if not arn:
        missing = (
            "neither GLACIER_DATABASE_SECRET_ARN nor GLACIER_DATABASE_URL_SECRET_ARN is set"
            if rds
            else "GLACIER_DATABASE_URL_SECRET_ARN is not set"
        )
        raise RuntimeError(f"{missing}: this task's dataset is a table in a database")
    return {**storage, "url": _secret(arn)}


def read(dataset: str, execution: str, data_dir: str) -> Any:
    """Load an input: download its object into ``data_dir`` and read it as a local run does."""
    storage = STORAGE[dataset]
    if storage is not None and _glacier_io.is_table(storage):
        return _glacier_io.read(_table(storage), dataset, data_dir)
    where = _where(dataset, execution)
    prefix = _key_prefix(where) + dataset
    listed = _s3().list_objects_v2(Bucket=where["bucket"], Prefix=prefix + ".")
    known = {prefix + ext: ext for ext in _glacier_io.EXTENSIONS.values()}
    found = [o for o in listed.get("Contents", []) if o["Key"] in known]
    fmt = _glacier_io._explicit_format(where)  # normalised as local runs do ("pkl" -> pickle)
    if fmt is not None:
        found = [o for o in found if known[o["Key"]] == _glacier_io.EXTENSIONS[fmt]]
    if not found:
        raise FileNotFoundError(
            f"dataset `{dataset}`: nothing stored at s3://{where['bucket']}/{prefix}.*"
        )
    newest = max(found, key=lambda o: (o["LastModified"], o["Key"]))
    target = os.path.join(_glacier_io.directory(where, data_dir), dataset + known[newest["Key"]])
    os.makedirs(os.path.dirname(target), exist_ok=True)
    _s3().download_file(where["bucket"], newest["Key"], target)
    return _glacier_io.read(where, dataset, data_dir)


def write(dataset: str, value: Any, execution: str, data_dir: str) -> str:
    """Store an output: write it as a local run does, then upload it (and drop stale siblings)."""
    storage = STORAGE[dataset]
    if storage is not None and _glacier_io.is_table(storage):
        return _glacier_io.write(_table(storage), dataset, value, data_dir)
    where = _where(dataset, execution)
    path = _glacier_io.write(where, dataset, value, data_dir)
    prefix = _key_prefix(where) + dataset
    key = prefix + os.path.splitext(path)[1]
    client = _s3()
    client.upload_file(path, where["bucket"], key)
    # Only siblings that exist: deleting a missing key leaves a delete marker on a versioned
    # bucket at every write. The listing is the one reads use (`<prefix><dataset>.`).
    listed = client.list_objects_v2(Bucket=where["bucket"], Prefix=prefix + ".")
    siblings = {prefix + ext for ext in _glacier_io.EXTENSIONS.values()} - {key}
    for stale in sorted(o["Key"] for o in listed.get("Contents", []) if o["Key"] in siblings):
        client.delete_object(Bucket=where["bucket"], Key=stale)
    return f"s3://{where['bucket']}/{key}"


def run_params(run_input: Any) -> dict[str, Any]:
    """The run parameters in an execution's input: its ``params``, or, in a child machine,
    those of the parent's input it carries as ``glacier_parent``."""
    while isinstance(run_input, dict):
        if "params" in run_input:
            params = run_input["params"]
            if not isinstance(params, dict):
                raise _glacier_params.ParameterError(
                    f"the execution input's `params` must be an object, got {params!r}"
                )
            return params
        run_input = run_input.get("glacier_parent")
    return {}


def parameter_arguments(task: str, params: dict[str, Any]) -> dict[str, Any]:
    """The values ``params`` sets for ``task``'s run parameters, read by their annotations;
    ``ParameterError`` for a key no task of the pipeline has or a value it cannot take."""
    if not params:
        return {}
    known = [(name, [p[0] for p in PARAMETERS.get(name, ())]) for name in TASKS]
    _glacier_params.check_known(known, params)
    found: dict[str, Any] = _glacier_params.run_values(task, PARAMETERS.get(task, ()), params)
    return found


def run(task: str, execution: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run one task of one execution: read its inputs, call it (with the run parameters
    ``params`` sets), write its outputs."""
    if task not in TASKS:
        raise KeyError(f"pipeline {PIPELINE!r} has no task {task!r}")
    module_name, function_name, inputs, outputs = TASKS[task]
    given = parameter_arguments(task, params or {})
    function = getattr(importlib.import_module(module_name), function_name)
    data_dir = tempfile.mkdtemp(prefix="glacier-")
    try:
        arguments = {param: read(dataset, execution, data_dir) for param, dataset in inputs}
        arguments.update(given)
        result = function(**arguments)
        values = result if len(outputs) > 1 else (result,)
        if len(outputs) > 1 and (not isinstance(result, tuple) or len(result) != len(outputs)):
            raise TypeError(f"task {task!r} must return a tuple of {len(outputs)} values")
        written = {
            dataset: write(dataset, value, execution, data_dir)
            for dataset, value in zip(outputs, values, strict=True)
        }
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return {"task": task, "execution": execution, "outputs": written}


def retried_as(task: str, exc: Exception) -> Exception:
    """``exc`` under the name of the task's ``retry_on`` class it is an instance of.

    Step Functions names a Lambda function's error after the exception's own class and its
    ``ErrorEquals`` compares names exactly, so a ``ConnectionRefusedError`` would not match a
    retrier for ``ConnectionError``. Local runs retry subclasses too: the exception is raised
    again as a subclass of its own class named after the listed one."""
    names = RETRY_ON.get(task, ())
    cls = type(exc)
    if not names or cls.__name__ in names:
        return exc
    listed = next((base.__name__ for base in cls.__mro__ if base.__name__ in names), None)
    if listed is None:
        return exc
    renamed = type(listed, (cls,), {"__module__": cls.__module__, "__qualname__": listed})
    try:
        again: Exception = renamed.__new__(renamed, *exc.args)
        again.args = exc.args
        again.__dict__.update(getattr(exc, "__dict__", {}))
    except Exception:  # noqa: BLE001 - an exception that cannot be re-made keeps its name
        return exc
    return again.with_traceback(exc.__traceback__)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda handler."""
    task = os.environ["GLACIER_TASK"]
    try:
        return run(task, str(event["execution"]), run_params(event.get("input")))
    except Exception as exc:
        again = retried_as(task, exc)
        if again is exc:
            raise
        raise again from exc


def main(argv: list[str]) -> int:
    """The container command: ``python -m glacier_handler TASK``."""
    if len(argv) != 1:
        print("usage: python -m glacier_handler TASK", file=sys.stderr)
        return 2
    run_input = json.loads(os.environ.get("GLACIER_INPUT") or "{}")
    print(json.dumps(run(argv[0], os.environ["GLACIER_EXECUTION"], run_params(run_input))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
