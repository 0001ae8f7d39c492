"""AWS limits: a value no deployment accepts is refused where it is written, on both paths.

Each fixture module in ``tests/fixtures/limits/`` holds one value AWS refuses (Lambda memory,
timeout and /tmp, Fargate CPU and memory pairs, EventBridge schedules, S3 bucket names, RDS
identifiers). ``glacier check`` reports exactly one finding, GLC402 at the offending argument,
and importing the module raises the exception whose words the finding quotes: both paths
apply the one rule of ``glacier.validate``.
"""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from analyzer import Diagnostic, analyze
from glacier import validate
from glacier.model import ComputeModel

ROOT = Path(__file__).resolve().parent.parent
LIMITS = ROOT / "tests" / "fixtures" / "limits"

# (fixture, the offending argument's source text (its last occurrence), the exception, words
# of its message)
INVALID: list[tuple[str, str, type[Exception], str]] = [
    ("lambda_memory_low", "127", ValueError, "must be 128..10240 MB"),
    ("lambda_memory_high", "10241", ValueError, "must be 128..10240 MB"),
    ("lambda_timeout_high", "901", ValueError, "must be 1..900 seconds"),
    ("lambda_timeout_fraction", "2.5", TypeError, "must be an int"),
    ("lambda_tmp_small", "256", ValueError, "must be 512..10240 MB (AWS Lambda's /tmp)"),
    ("lambda_tmp_large", "10241", ValueError, "must be 512..10240 MB (AWS Lambda's /tmp)"),
    ("fargate_pair", "4096", ValueError, "accepts 512, 1024, 2048 MB with 256 CPU units"),
    ("fargate_cpu", "300", ValueError, "must be one of 256, 512, 1024"),
    ("fargate_default_memory", "1024)", ValueError, "does not fit cpu=1024"),
    ("schedule_rate_plural", '"rate(1 minutes)"', ValueError, "write 'rate(1 minute)'"),
    ("schedule_rate_singular", '"rate(5 minute)"', ValueError, "write 'rate(5 minutes)'"),
    ("schedule_rate_zero", '"rate(0 hours)"', ValueError, "a whole number above 0"),
    ("schedule_cron_fields", "EVERY_NOON)", ValueError, "cron takes six fields"),
    ("schedule_cron_question", '"cron(0 12 * * MON *)"', ValueError, "must be '?'"),
    ("bucket_punycode", '"xn--data"', ValueError, "reserves the prefix 'xn--'"),
    ("bucket_access_point_alias", '"orders-s3alias"', ValueError, "the suffix '-s3alias'"),
    ("bucket_ip_address", '"192.168.10.20"', ValueError, "cannot be IP addresses"),
    ("bucket_too_long", '"aaaa', ValueError, "3-63 lowercase letters"),
    ("rds_too_long", '"dddd', ValueError, "up to 62 letters"),
]


def _position(source: str, needle: str) -> tuple[int, int]:
    """1-based line and column of the last occurrence of ``needle``."""
    offset = source.rindex(needle)
    line = source.count("\n", 0, offset) + 1
    return line, offset - (source.rfind("\n", 0, offset) + 1) + 1


def _findings(path: Path) -> list[Diagnostic]:
    """What ``glacier check`` reports on ``path`` but GLC502: the fixtures' pipelines are empty
    on purpose, one value each."""
    return [d for d in analyze([path], root=str(ROOT)).diagnostics if d.code != "GLC502"]


@pytest.mark.parametrize(
    ("fixture", "argument", "error", "words"), INVALID, ids=[case[0] for case in INVALID]
)
def test_a_value_aws_refuses_is_one_finding_at_its_argument_and_the_same_error_at_import(
    fixture: str, argument: str, error: type[Exception], words: str
) -> None:
    path = LIMITS / f"{fixture}.py"
    source = path.read_text(encoding="utf-8")

    findings = _findings(path)
    assert [(d.code, d.line, d.column) for d in findings] == [
        ("GLC402", *_position(source, argument))
    ]
    (finding,) = findings
    assert finding.severity == "error"
    assert finding.hint

    with pytest.raises(error) as raised:
        runpy.run_path(str(path))
    assert type(raised.value) is error
    assert words in str(raised.value)
    # the same rule, the same words: the finding quotes what the import raises
    assert finding.message.endswith(f"when the module is imported: {raised.value}")


def test_values_at_the_limits_are_clean_and_import() -> None:
    path = LIMITS / "valid_limits.py"
    assert _findings(path) == []
    runpy.run_path(str(path))


def test_a_tmp_size_reaches_the_model_on_both_paths_and_the_manifest() -> None:
    from codegen._manifest import manifest_data

    path = LIMITS / "valid_limits.py"
    runtime = runpy.run_path(str(path))["pipeline"].to_model()
    (static,) = [p for p in analyze([path], root=str(ROOT)).pipelines if p.name == "limits"]
    expected = ComputeModel("serverless", 10240, 900, tmp_mb=10240)
    assert [t.compute for t in runtime.tasks] == [t.compute for t in static.tasks] == [expected]
    (task,) = manifest_data(static, version="0")["tasks"]
    assert task["compute"] == {
        "kind": "serverless",
        "memory_mb": 10240,
        "timeout_s": 900,
        "tmp_mb": 10240,
    }


def test_dots_in_an_existing_bucket_are_a_warning_and_import() -> None:
    path = LIMITS / "bucket_dots.py"
    source = path.read_text(encoding="utf-8")
    findings = _findings(path)
    assert [(d.code, d.severity, d.line, d.column) for d in findings] == [
        ("GLC403", "warning", *_position(source, '"partner.landing"'))
    ]
    assert '`"partner-landing"`' in (findings[0].hint or "")
    runpy.run_path(str(path))  # S3 accepts the name: the runtime does too


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minute)",
        "rate(1 hour)",
        "rate(1 day)",
        "rate(15 minutes)",
        "rate(2 days)",
        "cron(0 12 * * ? *)",
        "cron(0/15 * ? * MON-FRI *)",
        "cron(0 8 1 * ? 2030)",
        "cron(0 10 ? * 6L 2030-2035)",
        " rate(5 minutes) ",
        None,
    ],
)
def test_schedules_eventbridge_accepts(expression: str | None) -> None:
    assert validate.schedule(expression) is None


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 days)",
        "rate(2 hour)",
        "rate(0 minutes)",
        "rate(-5 minutes)",
        "rate(1.5 hours)",
        "rate(3 weeks)",
        "rate(5  minutes)",
        "cron(0 12 * * ?)",
        "cron(0 12 * * ? * *)",
        "cron(0 12 ? * ? *)",
        "cron(0 12 1 * MON *)",
        "every day",
        "",
    ],
)
def test_schedules_eventbridge_refuses(expression: str) -> None:
    assert isinstance(validate.schedule(expression), ValueError)


def test_a_schedule_that_is_not_a_string_is_a_type_error() -> None:
    assert isinstance(validate.schedule(60), TypeError)


def test_every_fargate_pair_is_accepted_and_its_neighbours_are_not() -> None:
    for cpu, sizes in validate.FARGATE_MEMORY.items():
        for memory in sizes:
            assert validate.container(cpu, memory) is None, (cpu, memory)
        step = sizes[1] - sizes[0]
        for memory in (sizes[0] - step, sizes[-1] + step, sizes[0] + 1):
            assert validate.container_argument(cpu, memory) is not None, (cpu, memory)
    # AWS's table: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html
    assert validate.FARGATE_MEMORY[256] == (512, 1024, 2048)
    assert validate.FARGATE_MEMORY[4096][-1] == 30720
    assert validate.FARGATE_MEMORY[16384][:2] == (32768, 40960)


def test_an_unknown_cpu_still_checks_the_memory_on_its_own() -> None:
    """What the static path does for `Container(cpu=SIZE_FROM_ENV, memory_mb=...)`."""
    assert validate.container_argument(validate.UNKNOWN, 2048) is None
    found = validate.container_argument(validate.UNKNOWN, 3000)
    assert found is not None and found[0] == "memory_mb"
    assert validate.container_argument(300, validate.UNKNOWN) is not None


# -- names Glacier derives: within AWS's limits by construction ------------------------------

# AWS's length limit of each name, by resource type and the input that carries the name
_NAME_LIMITS = {
    "aws:iam/role:Role": ("name", 64),
    "aws:iam/rolePolicy:RolePolicy": ("name", 128),
    "aws:lambda/function:Function": ("name", 64),
    "aws:sfn/stateMachine:StateMachine": ("name", 80),
    "aws:cloudwatch/logGroup:LogGroup": ("name", 512),
    "aws:cloudwatch/eventRule:EventRule": ("name", 64),
    "aws:ecs/taskDefinition:TaskDefinition": ("family", 255),
}
_PULUMI_SUFFIX = 8  # auto-naming appends `-` and 7 random characters to the resource's name


def test_names_glacier_derives_stay_within_aws_limits_for_the_longest_names(
    tmp_path: Path,
) -> None:
    """No GLC3xx finding is needed for name lengths: a pipeline, task or environment name of
    any length gives IAM role, Lambda function, log group, schedule and state machine names
    AWS accepts, Pulumi's suffix included (component names are shortened with a hash)."""
    from _codegen_support import write_files

    from codegen.aws import emit_programs
    from codegen.aws._preview import preview_in_child

    env_name = "e" * 63  # the longest environment name (the stack) `glacier.validate` allows
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n')
    module = tmp_path / "long.py"
    module.write_text(
        "from glacier import Container, Dataset, Pipeline, Serverless\n"
        "from glacier_aws import Environment\n\n"
        f'env = Environment(account="123456789012", region="us-east-1", name="{env_name}")\n'
        f'pipeline = Pipeline(name="{"pipeline" * 25}", schedule="rate(1 day)")\n'
        'src = Dataset(name="src", storage=env.s3("long-names-in"))\n'
        'mid = Dataset(name="mid")\n'
        'out = Dataset(name="out", storage=env.s3("long-names-out"))\n\n\n'
        f'@pipeline.task(name="{"lambda_task_" * 20}", compute=Serverless(tmp_mb=2048))\n'
        "def first(rows: src) -> mid:\n    return rows\n\n\n"
        f'@pipeline.task(name="{"container_task_" * 20}", '
        'compute=Container(image="app:1", cpu=256, memory_mb=512))\n'
        "def second(rows: mid) -> out:\n    return rows\n"
    )
    analysis = analyze([str(module)], root=str(tmp_path))
    assert [d for d in analysis.diagnostics if d.severity == "error"] == []
    (model,) = analysis.pipelines
    write_files(emit_programs(analysis, model), tmp_path / "build")
    resources = preview_in_child(str(tmp_path / "build" / "pulumi" / env_name), env_name)[
        "resources"
    ]

    (function,) = [r for r in resources if r["type"] == "aws:lambda/function:Function"]
    assert function["inputs"]["ephemeralStorage"] == {"size": 2048}  # Serverless(tmp_mb=...)
    checked: set[str] = set()
    for resource in resources:
        if resource["type"] not in _NAME_LIMITS:
            continue
        key, limit = _NAME_LIMITS[resource["type"]]
        given = resource["inputs"].get(key)
        name = given if isinstance(given, str) else f"{resource['name']}-xxxxxxx"
        assert len(name) <= limit, (resource["type"], name)
        checked.add(resource["type"])
    # every kind of name above was derived from a long name, and checked
    assert checked == set(_NAME_LIMITS), set(_NAME_LIMITS) - checked
