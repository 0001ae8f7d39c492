"""`glacier rehearse`: each example's deployment runs end to end on the emulator.

Every test runs the real command in a child process: the program under Pulumi's mocks, moto's
server with IAM enforced, its Step Functions interpreter, each task's generated handler in a
child process with its role's credentials, and a real PostgreSQL where a dataset is a table.
"""

from __future__ import annotations

import json
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from glacier_local import _io
from rehearse._postgres import available as postgres_problem

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
FIXTURES = ROOT / "tests" / "fixtures" / "rehearse"

pytestmark = pytest.mark.slow


def _rehearse(
    path: Path, env: str, data_dir: Path, tmp_path: Path, *extra: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    report = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-m", "glacier_cli", "rehearse", str(path), "--env", env]
        + ["--data-dir", str(data_dir), "--report", str(report), *extra],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    data = json.loads(report.read_text()) if report.exists() else {}
    return done, data


def _seeded(tmp_path: Path, name: str = "data") -> Path:
    data = tmp_path / name
    shutil.copytree(EXAMPLES / "data", data)
    return data


def _assert_runner_agrees(module: Path, rehearsed: Path, local: Path, tmp_path: Path) -> None:
    """The standalone runner, on the same inputs, produces the same value for every dataset a
    task produces: stored ones in their storage, ephemeral ones against its resume copies."""
    out = tmp_path / "runner-build"
    subprocess.run(
        [sys.executable, "-m", "glacier_cli", "build", str(module), "--out", str(out)],
        check=True,
        capture_output=True,
    )
    (runner,) = out.glob("*/run_local.py")
    subprocess.run(
        [sys.executable, str(runner), "--data-dir", str(local)], check=True, capture_output=True
    )
    manifest = json.loads((runner.parent / "manifest.json").read_text())
    pipeline = manifest["pipeline"]["name"]
    compared = 0
    for dataset in manifest["datasets"]:
        name, storage = dataset["name"], dataset["storage"]
        if dataset["producer"] is None:
            continue
        if storage is None:
            copies = {"kind": "object", "bucket": ".glacier-rehearse", "prefix": pipeline}
            with open(local / ".glacier-run" / runner.parent.name / f"{name}.pkl", "rb") as fh:
                assert _io.read(copies, name, rehearsed) == pickle.load(fh), name
        else:
            assert _io.read(storage, name, rehearsed) == _io.read(storage, name, local), name
        compared += 1
    assert compared == sum(1 for d in manifest["datasets"] if d["producer"] is not None)


@pytest.mark.skipif(postgres_problem() is not None, reason=str(postgres_problem()))
def test_orders_rehearsal_matches_the_standalone_runner(tmp_path: Path) -> None:
    rehearsed = _seeded(tmp_path, "rehearsed")
    done, report = _rehearse(EXAMPLES / "orders", "default", rehearsed, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert report["status"] == "SUCCEEDED"
    assert {t["name"]: (t["status"], t["attempts"]) for t in report["tasks"].values()} == {
        "validate": ("ok", 1),
        "archive_rejections": ("ok", 1),
        "rank_customers": ("ok", 1),
        "revenue_by_day": ("ok", 1),
        "write_report": ("ok", 1),
    }
    # the container task ran as a Lambda-shaped invocation, and says so
    assert "cannot run ecs:runTask.sync" in done.stdout
    # the source bucket is existing storage: the program looks it up, the rehearsal makes it
    assert "bucket orders-landing: not created by the program, made as existing storage" in (
        done.stdout
    )

    _assert_runner_agrees(EXAMPLES / "orders", rehearsed, _seeded(tmp_path, "local"), tmp_path)
    table = {"kind": "database", "table": "rejections"}
    assert _io.read(table, "rejections", rehearsed)  # the rejected orders, not an empty table


@pytest.mark.parametrize(
    ("module", "env", "status"),
    [
        ("layer1_local.py", "default", "SUCCEEDED"),
        ("layer2_environments.py", "prod", "SUCCEEDED"),
        ("layer2_environments.py", "dev", "INFRASTRUCTURE ONLY"),
        ("layer3_raw_pulumi.py", "default", "SUCCEEDED"),
    ],
)
def test_every_example_environment_rehearses(
    module: str, env: str, status: str, tmp_path: Path
) -> None:
    done, report = _rehearse(EXAMPLES / module, env, tmp_path / "data", tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert report["status"] == status
    assert all(t["status"] == "ok" for t in report["tasks"].values())
    if status == "SUCCEEDED":
        _assert_runner_agrees(EXAMPLES / module, tmp_path / "data", tmp_path / "local", tmp_path)


def test_a_failed_attempt_is_retried_by_the_state_machine(tmp_path: Path) -> None:
    done, report = _rehearse(FIXTURES / "flaky.py", "default", tmp_path / "data", tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert report["tasks"]["add_up"]["attempts"] == 2
    assert report["tasks"]["add_up"]["status"] == "ok"
    assert report["tasks"]["produce"]["attempts"] == 1
    assert "ConnectionError: transient" in done.stdout
    storage = {"kind": "object", "bucket": "flaky-results"}
    assert _io.read(storage, "total", tmp_path / "data") == 6


def test_a_write_outside_the_tasks_datasets_is_denied(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _io.write({"kind": "object", "bucket": "sneaky-data", "prefix": "in"}, "raw", [1, 2], data)
    done, report = _rehearse(FIXTURES / "sneaky.py", "default", data, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert report["status"] == "FAILED"
    task = report["tasks"]["double"]
    assert task["status"] == "failed"
    assert "AccessDenied" in (task["error"] or "")
    assert not (data / "sneaky-data" / "doubled.json").exists()


def test_a_dag_that_is_not_series_parallel_runs_every_task_after_its_inputs(
    tmp_path: Path,
) -> None:
    done, report = _rehearse(FIXTURES / "crossed.py", "default", tmp_path / "data", tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    _assert_runner_agrees(FIXTURES / "crossed.py", tmp_path / "data", tmp_path / "local", tmp_path)
    storage = {"kind": "object", "bucket": "crossed-results"}
    assert _io.read(storage, "c", tmp_path / "data") == 6
    assert _io.read(storage, "d", tmp_path / "data") == 103
    assert {t["status"] for t in report["tasks"].values()} == {"ok"}
    # the history holds the events execution_events counts (2 Parallel states, 4 Lambda tasks)
    from analyzer import analyze
    from codegen.aws._asl import execution_events, state_machine

    (model,) = analyze([str(FIXTURES / "crossed.py")]).pipelines
    assert sum(report["events"].values()) == execution_events(state_machine(model)) == 30
    assert report["events"]["TaskSucceeded"] == 4


def test_a_missing_source_is_a_setup_error_naming_where_to_seed(tmp_path: Path) -> None:
    done, _ = _rehearse(FIXTURES / "sneaky.py", "default", tmp_path / "empty", tmp_path)
    assert done.returncode == 2
    assert "source dataset `raw` has nothing under" in done.stderr
    assert str(tmp_path / "empty" / "sneaky-data" / "in") in done.stderr


def test_an_unknown_environment_is_a_usage_error(tmp_path: Path) -> None:
    done, _ = _rehearse(EXAMPLES / "layer1_local.py", "nowhere", tmp_path / "data", tmp_path)
    assert done.returncode == 2
    assert "no program for environment `nowhere` (known: default)" in done.stderr


def test_a_bundle_lacking_a_requirement_is_detected(tmp_path: Path) -> None:
    from codegen.aws._package import missing_requirements

    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "requirements.txt").write_text("# generated\npsycopg[binary]==3.3.9\npyarrow>=15\n")
    (bundle / "pyarrow-16.0.0.dist-info").mkdir()
    assert missing_requirements(str(bundle)) == ["psycopg"]
    (bundle / "psycopg-3.3.9.dist-info").mkdir()
    assert missing_requirements(str(bundle)) == []


def test_a_current_packaged_bundle_lends_its_vendored_packages(tmp_path: Path) -> None:
    module = EXAMPLES / "layer1_local.py"
    out = tmp_path / "build"
    subprocess.run(
        [sys.executable, "-m", "glacier_cli", "build", str(module), "--out", str(out)],
        check=True,
        capture_output=True,
    )
    bundle = out / "etl" / "pulumi" / "default" / "bundle"
    (bundle / "vendored_probe-1.0.dist-info").mkdir()
    done, _ = _rehearse(module, "default", tmp_path / "data", tmp_path, "--out", str(out), "--keep")
    assert done.returncode == 0, done.stdout + done.stderr
    work = Path(re.search(r"work directory kept: (\S+)", done.stderr).group(1))  # type: ignore[union-attr]
    linked = work / "program" / "bundle" / "vendored_probe-1.0.dist-info"
    assert linked.is_symlink() and linked.resolve() == (bundle / "vendored_probe-1.0.dist-info")
    shutil.rmtree(work)

    (bundle / "glacier_handler.py").write_text("# edited by hand\n")
    done, _ = _rehearse(module, "default", tmp_path / "data2", tmp_path, "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "is stale (rebuild with `glacier build --package`)" in done.stderr


_SEAM = """
import json, sys
from rehearse._emulator import Emulator

emulator = Emulator("123456789012", "eu-west-1")
emulator.start()
emulator.create_admin()
key = emulator.client("kms").create_key()["KeyMetadata"]["Arn"]
s3 = emulator.client("s3")
s3.create_bucket(Bucket="vault", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
s3.put_bucket_encryption(Bucket="vault", ServerSideEncryptionConfiguration={"Rules": [
    {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}}]})
iam = emulator.client("iam")
iam.create_role(RoleName="task", AssumeRolePolicyDocument="{}")
statements = [{"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"],
               "Resource": "arn:aws:s3:::vault/out.*"}]
if sys.argv[1] == "granted":
    statements.append({"Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                       "Resource": key})
iam.put_role_policy(RoleName="task", PolicyName="p", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": statements}))
credentials = emulator.client("sts").assume_role(
    RoleArn="arn:aws:iam::123456789012:role/task", RoleSessionName="task")["Credentials"]
emulator.enforce_iam()
task = emulator.client("s3", credentials)
outcome = []
for call in (lambda: task.put_object(Bucket="vault", Key="out.json", Body=b"[]"),
             lambda: task.get_object(Bucket="vault", Key="out.json")):
    try:
        call()
        outcome.append("ok")
    except Exception as error:
        outcome.append(type(error).__name__ + ":" + str(error)[:60])
print(json.dumps(outcome))
"""


@pytest.mark.parametrize(("grant", "expected"), [("granted", "ok"), ("none", "AccessDenied")])
def test_an_object_in_an_sse_kms_bucket_needs_the_key(grant: str, expected: str) -> None:
    """moto encrypts without asking; the emulator asks as S3 does on AWS, for the caller."""
    done = subprocess.run(
        [sys.executable, "-c", _SEAM, grant], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    put = json.loads(done.stdout.strip().splitlines()[-1])[0]
    assert put == "ok" if expected == "ok" else "AccessDenied" in put, put


def test_a_failed_task_fails_the_execution_with_its_own_error_and_cause(tmp_path: Path) -> None:
    """`check` raises in a branch of a Parallel state: moto's interpreter passes its error out
    of the Parallel state into the Catch's `$.error`, and the Fail state's ErrorPath/CausePath
    make them the execution's error and cause."""
    done, report = _rehearse(FIXTURES / "broken.py", "default", tmp_path / "data", tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert report["status"] == "FAILED"
    assert report["error"] == "ValueError"
    assert "order 7 has no customer" in report["cause"]
    assert "  error: ValueError" in done.stdout
    tasks = {t["name"]: t["status"] for t in report["tasks"].values()}
    assert tasks["check"] == "failed" and tasks["report"] == "not run"


# -- a pipeline split into child state machines ------------------------------------------------

SPLIT_HISTORY_EVENTS = 50
"""Step Functions' history quota, lowered so that `split.py`'s five tasks need a parent and
four child machines, one started by another (the build plans machines within 90% of it)."""
_LOWERED_QUOTA_CLI = """
import sys
import codegen.aws._asl as asl
asl.MAX_HISTORY_EVENTS = int(sys.argv.pop(1))
from glacier_cli import main
main()
"""


def _rehearse_split(
    data_dir: Path, tmp_path: Path
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """`glacier rehearse` of `split.py`, built with the lowered quota (the rehearsal itself
    runs the program as built: nothing in it knows the quota was lowered)."""
    report = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-c", _LOWERED_QUOTA_CLI, str(SPLIT_HISTORY_EVENTS), "rehearse"]
        + [str(FIXTURES / "split.py"), "--env", "default", "--data-dir", str(data_dir)]
        + ["--report", str(report)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return done, json.loads(report.read_text()) if report.exists() else {}


@pytest.fixture
def split_machines(monkeypatch: pytest.MonkeyPatch) -> Any:
    """`split.py`'s machines as the lowered quota plans them (``state_machines`` is cached
    by model: cleared before and after)."""
    from analyzer import analyze
    from codegen.aws import _asl

    (model,) = analyze([str(FIXTURES / "split.py")]).pipelines
    monkeypatch.setattr(_asl, "MAX_HISTORY_EVENTS", SPLIT_HISTORY_EVENTS)
    _asl.state_machines.cache_clear()
    try:
        yield _asl.state_machines(model)
    finally:
        _asl.state_machines.cache_clear()


def _seed_numbers(data_dir: Path, values: list[int]) -> None:
    _io.write({"kind": "object", "bucket": "split-data"}, "numbers", values, data_dir)


def test_a_pipeline_split_into_child_machines_runs_every_task(
    split_machines: Any, tmp_path: Path
) -> None:
    from codegen.aws._asl import execution_events, started_children, tasks_run

    # the plan: the parent only starts children; `add_up` runs in a child that another
    # child starts, in a branch of its Parallel state
    parent, children = split_machines.parent, split_machines.children
    assert tasks_run(parent) == set() and len(children) == 4
    (inner,) = [name for name, d in children.items() if "add_up" in tasks_run(d)]
    assert any(inner in started_children(d) for d in children.values())

    data = tmp_path / "data"
    _seed_numbers(data, [3, 1, 4, 1, 5, -9])
    done, report = _rehearse_split(data, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert report["status"] == "SUCCEEDED"
    assert {t["name"]: (t["status"], t["attempts"]) for t in report["tasks"].values()} == {
        task: ("ok", 1)
        for task in ("validate", "add_up", "find_largest", "find_smallest", "summarise")
    }
    summary = _io.read({"kind": "object", "bucket": "split-results"}, "summary", data)
    assert summary == {"total": 14, "largest": 5, "smallest": 1}
    assert "deployed: " in done.stdout and "5 state machines" in done.stdout
    # moto checks nothing for the interpreter's own calls: the rehearsal checks the starting
    # machine's role, and says what it cannot check
    assert done.stdout.count("start  child machine") == 4
    assert "not enforced: child machines: `events:PutTargets`" in done.stdout
    # one history per execution, each as execution_events counts it; `events` sums them
    assert sorted(report["histories"].values()) == sorted(
        execution_events(d) for d in split_machines.all().values()
    )
    assert sum(report["events"].values()) == sum(report["histories"].values())
    _seed_numbers(tmp_path / "local", [3, 1, 4, 1, 5, -9])
    _assert_runner_agrees(FIXTURES / "split.py", data, tmp_path / "local", tmp_path)


def test_a_task_failing_in_a_nested_child_machine_fails_the_parent_with_its_error(
    split_machines: Any, tmp_path: Path
) -> None:
    """`add_up` raises in a child machine started in a branch of another child: each
    machine's failure reaches the one that started it as the task's own error and cause."""
    data = tmp_path / "data"
    _seed_numbers(data, [600_000, 700_000])
    done, report = _rehearse_split(data, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert report["status"] == "FAILED"
    assert report["error"] == "ValueError"
    assert "add up to 1300000, more than a million" in report["cause"]
    assert "  error: ValueError" in done.stdout
    tasks = {t["name"]: t["status"] for t in report["tasks"].values()}
    assert tasks["add_up"] == "failed" and tasks["summarise"] == "not run"
    assert not (data / "split-results").exists()


_CHILD_START = """
import json, sys, time
from rehearse._emulator import Emulator

emulator = Emulator("123456789012", "us-east-1")
emulator.start()
emulator.create_admin()
iam = emulator.client("iam")
role = iam.create_role(RoleName="parent", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
sfn = emulator.client("stepfunctions")
child = sfn.create_state_machine(name="child", roleArn=role, definition=json.dumps(
    {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}))["stateMachineArn"]
parent = sfn.create_state_machine(name="parent", roleArn=role, definition=json.dumps(
    {"StartAt": "Child", "States": {"Child": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
        "Parameters": {"StateMachineArn": child, "Name.$": "$$.Execution.Name"},
        "ResultPath": None, "End": True}}}))["stateMachineArn"]
statements = [{"Effect": "Allow", "Action": ["states:DescribeExecution"], "Resource": "*"}]
if sys.argv[1] == "granted":
    statements.append({"Effect": "Allow", "Action": ["states:StartExecution"], "Resource": child})
iam.put_role_policy(RoleName="parent", PolicyName="p", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": statements}))
emulator.create_states_principal()
if sys.argv[2] == "checked":
    def start(starter, started):
        assert starter == parent and started == child
        allowed = emulator.role_allows("parent", "states:StartExecution", started)
        return None if allowed else "the role may not start it"
    emulator.hooks.start = start
emulator.enforce_iam()
run = sfn.start_execution(stateMachineArn=parent, name="run")["executionArn"]
while (described := sfn.describe_execution(executionArn=run))["status"] == "RUNNING":
    time.sleep(0.1)
print(json.dumps([described["status"], described.get("error")]))
"""


@pytest.mark.parametrize(
    ("grant", "hook", "expected"),
    [
        ("granted", "checked", ["SUCCEEDED", None]),
        ("none", "checked", ["FAILED", "StepFunctions.AccessDeniedException"]),
        # moto alone starts the child whatever the role: why the rehearsal checks it
        ("none", "unchecked", ["SUCCEEDED", None]),
    ],
)
def test_starting_a_child_machine_is_checked_against_the_starting_role(
    grant: str, hook: str, expected: list[str | None]
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD_START, grant, hook],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == expected


_TAGGED_INVOKE = """
import json
from rehearse._emulator import Emulator

emulator = Emulator("123456789012", "us-east-1")
emulator.start()
emulator.create_admin()
iam = emulator.client("iam")
iam.create_role(RoleName="machine", AssumeRolePolicyDocument="{}")
iam.put_role_policy(RoleName="machine", PolicyName="p", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{
        "Sid": "InvokeTaskFunctions", "Effect": "Allow", "Action": ["lambda:InvokeFunction"],
        "Resource": ["arn:aws:lambda:us-east-1:123456789012:function:*"],
        "Condition": {"StringEquals": {
            "aws:ResourceTag/glacier:pipeline": "long", "aws:ResourceTag/glacier:stack": "prod"}},
    }],
}))
arn = "arn:aws:lambda:us-east-1:123456789012:function:long-t1-function"
ours = {"glacier:pipeline": "long", "glacier:stack": "prod", "team": "data"}
print(json.dumps([
    emulator.role_allows("machine", "lambda:InvokeFunction", arn, ours),
    emulator.role_allows("machine", "lambda:InvokeFunction", arn, {**ours, "glacier:stack": "dev"}),
    emulator.role_allows("machine", "lambda:InvokeFunction", arn, {}),
]))
"""


def test_a_tag_conditioned_grant_is_checked_against_the_resources_tags() -> None:
    """A large pipeline's state machine is allowed its tasks by tag (docs/deploy-aws.md): the
    rehearsal gives moto's evaluator the tags of the function or task definition invoked."""
    done = subprocess.run(
        [sys.executable, "-c", _TAGGED_INVOKE],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [True, False, False]
