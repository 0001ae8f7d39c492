"""One rehearsal: the environment's program deployed on the emulator, executed once.

1. The program runs under Pulumi's mocks in a child process (``codegen.aws._preview``, as
   ``glacier plan`` does) and what it declares is created in the emulator (``_replay``).
2. Every source dataset found under the data directory (the local layout) is copied into its
   deployed storage; databases are a local PostgreSQL.
3. IAM enforcement is switched on and one execution of the state machine starts on moto's
   Step Functions interpreter (a split pipeline's parent, which starts its child machines).
   Each Lambda invocation and ECS task runs the generated handler in a child process with its
   role's credentials (``_invoke``); each child start is checked against its starter's role.
4. At the end: a table per task, and every output copied back under the data directory in the
   local layout (ephemeral ones under ``.glacier-rehearse/<pipeline>/``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from rehearse._emulator import Emulator, InvocationResult
from rehearse._invoke import ChildResult, TaskProcess
from rehearse._replay import _EMPTY_ZIP, Deployment, replay

__all__ = ["RehearsalError", "Report", "TaskRecord", "rehearse"]

EXECUTION = "glacier-rehearsal"
"""The execution's name: it keys the scratch prefix of ephemeral datasets."""
REHEARSAL_DIR = ".glacier-rehearse"
INFRASTRUCTURE_ONLY = "INFRASTRUCTURE ONLY"
"""The status of an environment whose program deploys infrastructure but not the pipeline."""
DEFAULT_ACCOUNT, DEFAULT_REGION = "123456789012", "us-east-1"  # the mocks' defaults


class RehearsalError(Exception):
    """The rehearsal could not be set up (not a failure of the pipeline itself)."""


@dataclass
class TaskRecord:
    name: str
    status: str = "not run"
    attempts: int = 0
    duration_s: float = 0.0
    error: str | None = None


@dataclass
class Report:
    pipeline: str
    environment: str
    status: str = "NOT STARTED"
    error: str | None = None
    """The failed execution's error: the failing task's (the state machine's Fail state)."""
    cause: str | None = None
    events: dict[str, int] = field(default_factory=dict)
    """The histories of the execution and of the child machines' executions it started,
    counted by event type over all of them."""
    histories: dict[str, int] = field(default_factory=dict)
    """Events per execution, by state machine (the parent and each child): Step Functions
    keeps 25,000 in each execution's history, so the quota applies to each count, not to
    their sum."""
    tasks: dict[str, TaskRecord] = field(default_factory=dict)
    copied: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        """The execution succeeded, or the environment holds infrastructure only."""
        return self.status in ("SUCCEEDED", INFRASTRUCTURE_ONLY)

    def table(self) -> str:
        rows = [("TASK", "STATUS", "ATTEMPTS", "DURATION")]
        for record in self.tasks.values():
            duration = f"{record.duration_s:.2f} s" if record.attempts else "-"
            rows.append((record.name, record.status, str(record.attempts), duration))
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        return "\n".join(
            "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows
        )


def _load_handler(bundle: str) -> ModuleType:
    """The bundle's ``glacier_handler`` (its TASKS and STORAGE) and, through it, ``_glacier_io``."""
    if bundle not in sys.path:
        sys.path.insert(0, bundle)
    path = os.path.join(bundle, "glacier_handler.py")
    spec = importlib.util.spec_from_file_location("glacier_handler", path)
    if spec is None or spec.loader is None:
        raise RehearsalError(f"no generated handler at {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["glacier_handler"] = module
    spec.loader.exec_module(module)
    return module


def _preview(program_dir: str, env: str, config: dict[str, str]) -> dict[str, Any]:
    from codegen.aws import PreviewFailed, preview_in_child

    try:
        return preview_in_child(program_dir, env, config)
    except PreviewFailed as failure:
        raise RehearsalError(
            f"the program of environment `{env}` failed under Pulumi's mocks:\n{failure}"
        ) from None


def _where(resources: list[dict[str, Any]]) -> tuple[str, str]:
    """The account and region of the pipeline's state machine (its provider's), else the
    mocks' defaults."""
    providers = {r["urn"]: r for r in resources if r["type"].startswith("pulumi:providers:aws")}
    for resource in resources:
        if resource["type"] == "aws:sfn/stateMachine:StateMachine" and resource.get("provider"):
            provider = providers.get(resource["provider"])
            if provider is not None:
                inputs = provider.get("inputs") or {}
                accounts = inputs.get("allowedAccountIds") or []
                if isinstance(accounts, str):
                    accounts = json.loads(accounts)
                return (accounts[0] if accounts else DEFAULT_ACCOUNT), str(
                    inputs.get("region") or DEFAULT_REGION
                )
    return DEFAULT_ACCOUNT, DEFAULT_REGION


class _Rehearsal:
    def __init__(
        self,
        program_dir: str,
        env: str,
        pipeline: str,
        data_dir: str,
        work_dir: str,
        say: Callable[[str], None],
    ) -> None:
        self.program_dir = os.path.abspath(program_dir)
        self.env = env
        self.data_dir = os.path.abspath(data_dir)
        self.work_dir = work_dir
        self.say = say
        self.bundle = os.path.join(self.program_dir, "bundle")
        self.tasks: dict[str, tuple[str, str, tuple[tuple[str, str], ...], tuple[str, ...]]] = {}
        self.storage: dict[str, dict[str, Any] | None] = {}
        self.pipeline = pipeline
        if os.path.isdir(self.bundle):  # the environment that deploys the pipeline
            self.handler = _load_handler(self.bundle)
            self.io: Any = sys.modules["_glacier_io"]
            self.pipeline = self.handler.PIPELINE
            self.tasks = self.handler.TASKS
            self.storage = self.handler.STORAGE
        self.report = Report(self.pipeline, env)
        self.report.tasks = {name: TaskRecord(name) for name in self.tasks}
        self.postgres: Any = None
        self.credentials: dict[str, dict[str, str]] = {}
        self._emulator: Emulator | None = None
        self._running = 0
        self.containers: dict[str, tuple[dict[str, Any], str]] = {}
        """stand-in function name -> (task definition, its ARN)"""
        self._lock = threading.Lock()

    # -- the steps ----------------------------------------------------------------------------

    def run(self) -> Report:
        started = time.monotonic()
        with ExitStack() as stack:
            if any(s is not None and self.io.is_table(s) for s in self.storage.values()):
                self.postgres = stack.enter_context(self._postgres())
            config = {"glacier:databaseUrl": self.postgres.url} if self.postgres else {}
            preview = _preview(self.program_dir, self.env, config)
            account, region = _where(preview["resources"])
            emulator = self._emulator = Emulator(account, region)
            emulator.start()
            stack.callback(emulator.stop)
            self.say(
                f"emulator: moto {_moto_version()} at {emulator.endpoint} ({account}, {region})"
            )
            deployment = self._deploy(emulator, preview)
            if deployment.state_machine_arn is None:
                self.report.status = INFRASTRUCTURE_ONLY
                self.say(
                    f"environment `{self.env}` holds infrastructure only (the pipeline is "
                    "deployed in the environment of its storage): nothing to execute"
                )
                self.report.wall_s = time.monotonic() - started
                return self.report
            exports = deployment.alias(preview.get("exports") or {})
            buckets: dict[str, str] = dict(exports.get("buckets") or {})
            self._seed(emulator, deployment, buckets)
            processes = TaskProcess(self.work_dir, emulator.endpoint, region)
            self._install_hooks(emulator, deployment, processes)
            emulator.enforce_iam()
            self._execute(emulator, deployment)
            emulator.relax_iam()
            if self.report.ok:
                self._copy_back(emulator, buckets)
            for bundle in sorted(processes.borrowed):
                self.report.warnings.append(
                    f"{os.path.relpath(bundle, self.program_dir)} lacks its requirements "
                    "(build with `glacier build --package` to vendor them): the tasks ran with "
                    "this environment's site-packages"
                )
        self.report.wall_s = time.monotonic() - started
        return self.report

    @contextmanager
    def _postgres(self) -> Iterator[Any]:
        from rehearse._postgres import available, postgres_server

        problem = available()
        if problem is not None:
            raise RehearsalError(f"datasets stored in a database need PostgreSQL: {problem}")
        with postgres_server() as server:
            self.say(f"database: PostgreSQL at {server.host}:{server.port} stands in for it")
            yield server

    def _deploy(self, emulator: Emulator, preview: dict[str, Any]) -> Deployment:
        emulator.relax_iam()
        emulator.create_admin()
        deployment = replay(
            preview["resources"],
            emulator,
            self.program_dir,
            database=self._database_stand_in,
            definition=self._containers_as_invocations,
        )
        emulator.create_states_principal()
        sts = emulator.client("sts")
        for arn, name in sorted(deployment.roles.items()):
            self.credentials[arn] = sts.assume_role(RoleArn=arn, RoleSessionName=name[:64])[
                "Credentials"
            ]
        machines = len(deployment.machines)
        created = ", ".join(
            f"{n} {what}"
            for what, n in (
                ("buckets", len(deployment.buckets)),
                ("roles", len(deployment.roles)),
                ("Lambda functions", len(deployment.functions)),
                ("state machines" if len(deployment.machines) > 1 else "state machine", machines),
            )
            if n
        )
        skipped = ", ".join(f"{n} {t}" for t, n in sorted(deployment.skipped.items()))
        self.say(f"deployed: {created}")
        if skipped:
            self.say(f"not emulated: {skipped}")
        if len(deployment.machines) > 1:
            deployment.unenforced.append(
                "child machines: `events:PutTargets`/`PutRule`/`DescribeRule` on the rule "
                "`StepFunctionsGetEventsForStepFunctionsExecutionRule` (Step Functions' own rule "
                "for `.sync`, not emulated) and `states:StopExecution` (used when the parent "
                "stops); `states:StartExecution` and `states:DescribeExecution` are checked"
            )
        for what in deployment.unenforced:
            self.say(f"not enforced: {what}")
        return deployment

    def _containers_as_invocations(
        self, definition: dict[str, Any], deployment: Deployment
    ) -> dict[str, Any]:
        """``ecs:runTask.sync`` states become Lambda-shaped invocations of a stand-in that runs
        the task definition's command: moto's interpreter cannot run them (see the docs)."""
        ecs = self._admin_client("ecs")
        lam = self._admin_client("lambda")

        def rewrite(node: Any) -> Any:
            if isinstance(node, list):
                return [rewrite(v) for v in node]
            if not isinstance(node, dict):
                return node
            node = {k: rewrite(v) for k, v in node.items()}
            if node.get("Type") != "Task" or not str(node.get("Resource", "")).startswith(
                "arn:aws:states:::ecs:runTask"
            ):
                return node
            arn = node["Parameters"]["TaskDefinition"]
            task_definition = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
            name = f"glacier-rehearsal-{task_definition['family']}"[:64]
            if name not in self.containers:
                created = lam.create_function(
                    FunctionName=name,
                    Runtime="python3.12",
                    Role=task_definition["taskRoleArn"],
                    Handler="container",
                    Code={"ZipFile": _EMPTY_ZIP},
                )
                self.containers[name] = (task_definition, created["FunctionArn"])
            node["Resource"] = "arn:aws:states:::lambda:invoke"
            node["Parameters"] = {
                "FunctionName": self.containers[name][1],
                "Payload": {"execution.$": "$$.Execution.Name", "input.$": "$$.Execution.Input"},
            }
            return node

        rewritten: dict[str, Any] = rewrite(definition)
        if self.containers:
            self.say(
                f"containers: {len(self.containers)} ECS task(s) run as Lambda-shaped "
                f"invocations of their task definition's command (moto {_moto_version()} cannot "
                "run ecs:runTask.sync)"
            )
        return rewritten

    def _database_stand_in(self, resource: dict[str, Any], deployment: Deployment) -> None:
        """An RDS instance: its managed secret holds the local server's credentials."""
        if self.postgres is None:
            return
        outputs = resource.get("outputs") or {}
        secrets = outputs.get("masterUserSecrets") or []
        mocked = secrets[0].get("secretArn") if secrets else None
        created = self._admin_client("secretsmanager").create_secret(
            Name=f"rds!{resource['name']}",
            SecretString=json.dumps(
                {"username": self.postgres.user, "password": self.postgres.password}
            ),
        )
        if mocked:
            deployment.aliases[str(mocked)] = created["ARN"]
        for key, value in (
            ("address", self.postgres.host),
            ("endpoint", f"{self.postgres.host}:{self.postgres.port}"),
        ):
            if outputs.get(key):
                deployment.aliases[str(outputs[key])] = value
        name = (resource.get("inputs") or {}).get("dbName")
        if name:
            self.postgres.create_database(str(name))

    def _database_variables(self, variables: dict[str, str]) -> dict[str, str]:
        """A task's environment with the database endpoint the rehearsal stands in: the
        local server's port, and no TLS (it has none)."""
        if self.postgres is None or not any(k.startswith("GLACIER_DATABASE_") for k in variables):
            return variables
        changed = {**variables, "GLACIER_DATABASE_SSLMODE": "disable"}
        if "GLACIER_DATABASE_PORT" in variables:
            changed["GLACIER_DATABASE_PORT"] = str(self.postgres.port)
        return changed

    def _admin_client(self, service: str) -> Any:
        assert self._emulator is not None
        return self._emulator.client(service)

    def _seed(self, emulator: Emulator, deployment: Deployment, buckets: dict[str, str]) -> None:
        produced = {out for _, _, _, outputs in self.tasks.values() for out in outputs}
        s3 = emulator.client("s3")
        for dataset in sorted(set(self.storage) - produced):
            storage = self.storage[dataset]
            if storage is None:
                continue
            if self.io.is_table(storage):
                value = self.io.read(storage, dataset, self.data_dir)
                self.io.write(self._deployed_table(storage), dataset, value, self.data_dir)
                self.say(f"seeded {dataset}: table `{self.io.table_name(storage, dataset)}`")
                continue
            bucket = _deployed_bucket(dataset, storage, buckets)
            folder = self.io.directory(storage, self.data_dir)
            files = [
                name
                for name in sorted(os.listdir(folder) if os.path.isdir(folder) else [])
                if os.path.splitext(name)[0] == dataset
                and os.path.splitext(name)[1] in self.io.EXTENSIONS.values()
            ]
            if not files:
                raise RehearsalError(
                    f"source dataset `{dataset}` has nothing under {folder}: seed the data "
                    "directory as for a local run (the same layout)"
                )
            if bucket not in deployment.buckets:
                s3.create_bucket(**_bucket_args(bucket, emulator.region))
                deployment.buckets.add(bucket)
                self.say(f"bucket {bucket}: not created by the program, made as existing storage")
            prefix = self.handler._key_prefix(storage)
            for name in files:
                s3.upload_file(os.path.join(folder, name), bucket, prefix + name)
                shown = os.path.relpath(os.path.join(folder, name))
                self.say(f"seeded {dataset}: {shown} -> s3://{bucket}/{prefix}{name}")

    def _deployed_table(self, storage: dict[str, Any]) -> dict[str, Any]:
        assert self.postgres is not None
        return {**storage, "url": storage.get("url") or self.postgres.url}

    # -- running ------------------------------------------------------------------------------

    def _install_hooks(
        self, emulator: Emulator, deployment: Deployment, processes: TaskProcess
    ) -> None:
        logs = os.path.join(self.work_dir, "logs")
        os.makedirs(logs, exist_ok=True)
        ecs = self._admin_client("ecs")  # the task definitions' tags, for tag conditions

        def finished(task: str, outcome: ChildResult) -> None:
            with self._lock:
                record = self.report.tasks.setdefault(task, TaskRecord(task))
                record.attempts += 1
                record.duration_s += outcome.duration_s
                record.status = "failed" if outcome.failed else "ok"
                attempt = record.attempts
                error = (
                    outcome.result if outcome.failed and isinstance(outcome.result, dict) else {}
                )
                record.error = (
                    f"{error.get('errorType')}: {error.get('errorMessage')}" if error else None
                )
            path = os.path.join(logs, f"{task}.{attempt}.log")
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(outcome.log)
            if outcome.failed:
                self.say(f"[{self.pipeline}] failed {task} (attempt {attempt}): {record.error}")
                for line in outcome.log.rstrip().splitlines()[-15:]:
                    self.say(f"    {line}")
            else:
                self.say(f"[{self.pipeline}] ok     {task} ({outcome.duration_s:.2f} s)")

        def role_invoking(arn: str) -> str:
            """The role of the machine whose states invoke ``arn`` (a split pipeline's tasks
            run in the parent or in one child machine)."""
            machine = deployment.machine_naming(arn)
            role = machine.role if machine is not None else deployment.state_machine_role
            assert role is not None
            return role

        def refusal(role: str, what: str) -> str:
            message = f"the state machine's role `{role}` may not {what}"
            self.say(f"[{self.pipeline}] denied: {message}")
            return message

        def denied(role: str, what: str) -> InvocationResult:
            message = refusal(role, what)
            return InvocationResult(
                {"errorType": "AccessDeniedException", "errorMessage": message}, True
            )

        def start(starter: str, started: str) -> str | None:
            """A child machine started by a ``startExecution.sync:2`` state of ``starter``:
            its role must allow starting it and reading that execution."""
            machine = deployment.machines.get(starter)
            role = machine.role if machine is not None else deployment.state_machine_role
            assert role is not None
            execution = started.replace(":stateMachine:", ":execution:", 1) + f":{EXECUTION}"
            for action, resource in (
                ("states:StartExecution", started),
                ("states:DescribeExecution", execution),
            ):
                if not emulator.role_allows(role, action, resource):
                    return refusal(role, f"{action.split(':')[1]} on {resource}")
            child = deployment.machines.get(started)
            self.say(f"[{self.pipeline}] start  child machine {child.name if child else started}")
            return None

        def invoke(function: str, arn: str, payload: bytes) -> InvocationResult:
            with self._lock:
                self._running += 1
            try:
                return dispatch(function, arn, payload)
            finally:
                with self._lock:
                    self._running -= 1

        def dispatch(function: str, arn: str, payload: bytes) -> InvocationResult:
            if function in self.containers:
                return run_container(*self.containers[function], payload)
            role = role_invoking(arn)
            spec = deployment.functions[function]
            if not emulator.role_allows(role, "lambda:InvokeFunction", arn, spec.tags):
                return denied(role, f"invoke {arn}")
            task = spec.environment.get("GLACIER_TASK", function)
            self.say(f"[{self.pipeline}] start  {task}")
            outcome = processes.run_handler(
                function=function,
                bundle=spec.code,
                handler=spec.handler,
                event=json.loads(payload or b"{}"),
                variables=self._database_variables(spec.environment),
                credentials=self.credentials[spec.role],
                timeout_s=spec.timeout_s,
                memory_mb=spec.memory_mb,
            )
            finished(task, outcome)
            return InvocationResult(outcome.result, outcome.failed)

        def run_container(
            task_definition: dict[str, Any], stand_in: str, payload: bytes
        ) -> InvocationResult:
            arn = task_definition["taskDefinitionArn"]
            role = role_invoking(stand_in)
            tags = {
                t["key"]: t["value"]
                for t in ecs.list_tags_for_resource(resourceArn=arn).get("tags", [])
            }
            if not emulator.role_allows(role, "ecs:RunTask", arn, tags):
                return denied(role, f"run {arn}")
            container = task_definition["containerDefinitions"][0]
            command = list(container.get("command") or [])
            variables = {e["name"]: e["value"] for e in container.get("environment") or []}
            event = json.loads(payload or b"{}")
            variables["GLACIER_EXECUTION"] = str(event.get("execution"))
            variables["GLACIER_INPUT"] = json.dumps(event.get("input") or {})
            variables = self._database_variables(variables)
            if command[:2] != ["python", "-m"] or len(command) < 3:
                raise RehearsalError(f"cannot rehearse container command {command!r}")
            task = variables.get("GLACIER_TASK", task_definition["family"])
            self.say(f"[{self.pipeline}] start  {task} (container)")
            outcome = processes.run_module(
                bundle=self.bundle,
                module=command[2],
                args=command[3:],
                variables=variables,
                credentials=self.credentials[task_definition["taskRoleArn"]],
                timeout_s=3600,
            )
            finished(task, outcome)
            return InvocationResult(outcome.result, outcome.failed)

        emulator.hooks.invoke = invoke
        emulator.hooks.start = start

    def _execute(self, emulator: Emulator, deployment: Deployment) -> None:
        sfn = emulator.client("stepfunctions")
        arn = sfn.start_execution(
            stateMachineArn=deployment.state_machine_arn, name=EXECUTION, input="{}"
        )["executionArn"]
        self.say(f"[{self.pipeline}] execution `{EXECUTION}` started")
        described = _finished(sfn, arn)
        # the child machines' executions it started (each takes the parent's name), finished
        # too: one may still run when another failed the parent
        parent = deployment.state_machine_arn
        assert parent is not None
        executions = {parent: arn}
        for machine in deployment.machines.values():
            if machine.arn == parent:
                continue
            child = machine.arn.replace(":stateMachine:", ":execution:", 1) + f":{EXECUTION}"
            try:
                _finished(sfn, child)
            except sfn.exceptions.ExecutionDoesNotExist:
                continue  # not started: the parent failed before it
            executions[machine.arn] = child
        while self._running:  # a branch still running when another failed the execution
            time.sleep(0.05)
        self.report.status = described["status"]
        self.report.error = described.get("error")
        self.report.cause = described.get("cause") or described.get("error")
        if self.report.status != "SUCCEEDED" and not self.report.cause:
            self.report.cause = _failure_cause(sfn, arn)
        events: dict[str, int] = {}
        for machine_arn, execution in executions.items():
            counts = _history_counts(sfn, execution)
            self.report.histories[deployment.machines[machine_arn].name] = sum(counts.values())
            for kind, n in counts.items():
                events[kind] = events.get(kind, 0) + n
        self.report.events = dict(sorted(events.items()))
        if len(executions) > 1:
            name, most = max(self.report.histories.items(), key=lambda item: item[1])
            self.say(
                f"[{self.pipeline}] {len(executions)} executions (the parent and its child "
                f"machines): {sum(self.report.histories.values())} events, at most {most} in "
                f"one history (`{name}`; Step Functions keeps 25,000 per execution)"
            )

    def _copy_back(self, emulator: Emulator, buckets: dict[str, str]) -> None:
        s3 = emulator.client("s3")
        scratch = buckets.get("glacier:scratch")
        for task in self.tasks.values():
            for dataset in task[3]:
                storage = self.storage.get(dataset)
                if storage is not None and self.io.is_table(storage):
                    value = self.io.read(self._deployed_table(storage), dataset, self.data_dir)
                    where = self.io.write(storage, dataset, value, self.data_dir)
                    self.report.copied.append((dataset, where))
                    continue
                if storage is None:
                    bucket, prefix = scratch, EXECUTION + "/"
                    folder = os.path.join(self.data_dir, REHEARSAL_DIR, self.pipeline)
                else:
                    bucket = _deployed_bucket(dataset, storage, buckets)
                    prefix = self.handler._key_prefix(storage)
                    folder = self.io.directory(storage, self.data_dir)
                listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix + dataset + ".")
                keys = [
                    o
                    for o in listed.get("Contents", [])
                    if o["Key"][len(prefix) :][len(dataset) :] in self.io.EXTENSIONS.values()
                ]
                if not keys:
                    continue
                newest = max(keys, key=lambda o: (o["LastModified"], o["Key"]))
                body = s3.get_object(Bucket=bucket, Key=newest["Key"])["Body"].read()
                target = os.path.join(folder, newest["Key"][len(prefix) :])
                os.makedirs(folder, exist_ok=True)
                self.io.atomic_write(target, lambda fh, data=body: fh.write(data))
                self.report.copied.append((dataset, target))


def _deployed_bucket(dataset: str, storage: dict[str, Any], buckets: dict[str, str]) -> str:
    """The bucket a stored dataset lives in once deployed: the program's export for it (a
    name Pulumi chose), else the name the storage gives."""
    return str(buckets.get(dataset) or storage.get("bucket") or storage.get("name"))


def _bucket_args(bucket: str, region: str) -> dict[str, Any]:
    args: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        args["CreateBucketConfiguration"] = {"LocationConstraint": region}
    return args


def _finished(sfn: Any, arn: str) -> dict[str, Any]:
    """The execution once it is no longer running, as ``describe_execution`` gives it."""
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.1)


def _history_counts(sfn: Any, arn: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
        for event in page["events"]:
            counts[event["type"]] = counts.get(event["type"], 0) + 1
    return dict(sorted(counts.items()))


def _failure_cause(sfn: Any, arn: str) -> str | None:
    events = sfn.get_execution_history(executionArn=arn, reverseOrder=True)["events"]
    for event in events:
        for key, details in event.items():
            if key.endswith("EventDetails") and isinstance(details, dict) and "cause" in details:
                return f"{details.get('error')}: {details.get('cause')}"
    return None


def _moto_version() -> str:
    from importlib.metadata import version

    return version("moto")


def rehearse(
    program_dir: str,
    env: str,
    pipeline: str,
    data_dir: str,
    work_dir: str,
    say: Callable[[str], None] = print,
) -> Report:
    """Deploy ``program_dir`` (pipeline ``pipeline``'s program of environment ``env``) on the
    emulator, run it once, copy its outputs under ``data_dir``. Call it in a process of its
    own: the emulator's state is the process's."""
    return _Rehearsal(program_dir, env, pipeline, data_dir, work_dir, say).run()
