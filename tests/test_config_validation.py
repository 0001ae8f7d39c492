"""Configuration values: `glacier check` rejects exactly the literals the runtime rejects.

Each invalid module is both analyzed (GLC402 at the offending argument) and run (the
constructor raises): the diagnostic quotes the exception the import raises, so the static and
the runtime path agree because they share ``glacier.validate``.
"""

from __future__ import annotations

import runpy
import textwrap
from pathlib import Path

import pytest

from analyzer import Diagnostic, analyze

HEADER = """\
from glacier import Container, Dataset, ObjectStorage, Pipeline, Serverless
from glacier_aws import Environment

pipeline = Pipeline(name="etl")
"""
ENV = 'env = Environment(account="123456789012", region="us-east-1", name="prod")\n'

# (id, module body after HEADER, the offending argument's source text, the exception)
INVALID: list[tuple[str, str, str, type[Exception]]] = [
    (
        "empty-bucket",
        'raw = Dataset(name="raw", storage=ObjectStorage(bucket=""))\n',
        '""',
        ValueError,
    ),
    (
        "none-bucket",
        'raw = Dataset(name="raw", storage=ObjectStorage(bucket=None))\n',
        "None",
        ValueError,
    ),
    ("serverless-memory", "compute = Serverless(memory_mb=0)\n", "0", ValueError),
    ("serverless-timeout-negative", "compute = Serverless(timeout_s=-5)\n", "-5", ValueError),
    (
        "serverless-memory-through-a-name",
        "MEMORY = -1\ncompute = Serverless(MEMORY)\n",
        "MEMORY)",
        ValueError,
    ),
    ("serverless-memory-str", 'compute = Serverless(memory_mb="512")\n', '"512"', TypeError),
    ("container-cpu", 'compute = Container(image="app", cpu=0)\n', "0", ValueError),
    ("container-memory-none", "compute = Container(memory_mb=None)\n", "None", TypeError),
    (
        "task-compute",
        (
            'out = Dataset(name="out", storage=ObjectStorage(bucket="results"))\n\n\n'
            "@pipeline.task(compute=Serverless(memory_mb=0, timeout_s=60))\n"
            "def load() -> out:\n    return 1\n"
        ),
        "0,",
        ValueError,
    ),
    (
        "account-letters",
        'env = Environment(account="12ab", region="us-east-1", name="prod")\n',
        '"12ab"',
        ValueError,
    ),
    (
        "account-too-long",
        'env = Environment("1234567890123", "us-east-1", "prod")\n',
        '"1234567890123"',
        ValueError,
    ),
    (
        "account-int",
        'env = Environment(account=123456789012, region="us-east-1", name="prod")\n',
        "123456789012",
        TypeError,
    ),
    (
        "region",
        'env = Environment(account="123456", region="useast1", name="prod")\n',
        '"useast1"',
        ValueError,
    ),
    (
        "environment-name",
        'env = Environment(account="123456", region="us-east-1", name="prod env")\n',
        '"prod env"',
        ValueError,
    ),
    (
        "tags",
        'env = Environment("123456", "us-east-1", "prod", tags={"team": 1})\n',
        '{"team": 1}',
        TypeError,
    ),
    ("s3-bucket-uppercase", ENV + 'bucket = env.s3("Prod-Data")\n', '"Prod-Data"', ValueError),
    (
        "s3-bucket-underscore",
        ENV + 'bucket = env.s3(bucket="data_set")\n',
        '"data_set"',
        ValueError,
    ),
    (
        "s3-bucket-in-a-dataset",
        ENV + 'raw = Dataset(name="raw", storage=env.s3("ab"))\n',
        '"ab"',
        ValueError,
    ),
    (
        "existing-str",
        'raw = Dataset(name="raw", storage=ObjectStorage(bucket="landing", existing="no"))\n',
        '"no"',
        TypeError,
    ),
    ("s3-existing-int", ENV + 'bucket = env.s3("landing", existing=1)\n', "1", TypeError),
    (
        "s3-bucket-existing",
        ENV + 'bucket = env.s3(bucket="Landing", existing=True)\n',
        '"Landing"',
        ValueError,
    ),
    (
        "s3-bucket-dots",
        ENV + 'bucket = env.s3(bucket="partner.landing")\n',
        '"partner.landing"',
        ValueError,
    ),
    (
        "s3-bucket-existing-double-dot",
        ENV + 'bucket = env.s3(bucket="partner..landing", existing=True)\n',
        '"partner..landing"',
        ValueError,
    ),
    (
        "s3-bucket-through-a-name",
        ENV + 'LANDING = "land_ing"\nbucket = env.s3(LANDING)\n',
        "LANDING)",
        ValueError,
    ),
    ("rds-double-hyphen", ENV + 'db = env.rds(name="db--x")\n', '"db--x"', ValueError),
    ("rds-leading-digit", ENV + 'db = env.rds("1db")\n', '"1db"', ValueError),
]


def _write(tmp_path: Path, body: str) -> tuple[Path, str]:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'example'\n")
    source = HEADER + textwrap.dedent(body)
    module = tmp_path / "example.py"
    module.write_text(source, encoding="utf-8")
    return module, source


def _position(source: str, needle: str) -> tuple[int, int]:
    """1-based line and column of the last occurrence of ``needle``."""
    offset = source.rindex(needle)
    line = source.count("\n", 0, offset) + 1
    return line, offset - (source.rfind("\n", 0, offset) + 1) + 1


def _config_findings(module: Path) -> list[Diagnostic]:
    return [d for d in analyze([module]).diagnostics if d.code == "GLC402"]


@pytest.mark.parametrize(
    ("body", "argument", "error"),
    [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_an_invalid_literal_is_reported_statically_and_raised_at_import(
    tmp_path: Path, body: str, argument: str, error: type[Exception]
) -> None:
    module, source = _write(tmp_path, body)

    findings = _config_findings(module)
    assert [(d.line, d.column) for d in findings] == [_position(source, argument)]
    (finding,) = findings
    assert finding.severity == "error"
    assert finding.name == "invalid-config-value"
    assert finding.hint

    with pytest.raises(error) as raised:
        runpy.run_path(str(module))
    assert type(raised.value) is error
    # the same rule, the same exception: the message quotes what the import raises
    assert f"raises `{error.__name__}`" in finding.message
    assert finding.message.endswith(f"when the module is imported: {raised.value}")


VALID = """\
LANDING = "landing"
env = Environment(
    account="012345678901", region="eu-west-1", name="prod_1", tags={"team": "data"}
)
dev = Environment("123456", "us-east-1", "dev")
partner = env.s3("partner.landing", existing=True)  # S3 allows dots; Glacier creates none
raw = Dataset(name="raw", storage=ObjectStorage(bucket=LANDING, prefix="in"))
out = Dataset(name="out", storage=env.s3("prod-out-1"))
table = Dataset(name="table", storage=env.rds(name="orders-db"))
small = Serverless(memory_mb=128, timeout_s=1)
box = Container(image="app:1", cpu=1024, memory_mb=2048)


@pipeline.task(compute=small)
def load(data: raw) -> out:
    return data


@pipeline.task(compute=box)
def keep(data: out) -> table:
    return data
"""


def test_a_module_with_valid_literals_is_clean_and_imports(tmp_path: Path) -> None:
    module, _ = _write(tmp_path, VALID)
    result = analyze([module])
    assert [d for d in result.diagnostics if d.severity == "error"] == []
    runpy.run_path(str(module))


@pytest.mark.parametrize(
    "body",
    [
        "import os\nraw = Dataset(name='raw', storage=ObjectStorage(bucket=os.environ['B']))\n",
        "import os\ncompute = Serverless(memory_mb=int(os.environ.get('MEM', '0')))\n",
        "import os\nenv = Environment(os.environ['ACCOUNT'], 'us-east-1', 'prod')\n",
        ENV + "import os\nbucket = env.s3(os.environ['BUCKET'])\n",
    ],
    ids=["bucket", "memory", "account", "s3"],
)
def test_dynamic_values_are_not_checked(tmp_path: Path, body: str) -> None:
    module, _ = _write(tmp_path, body)
    assert _config_findings(module) == []


@pytest.mark.parametrize(
    ("body", "argument"),
    [
        (
            (
                "import os\n"
                "raw = Dataset(name='raw', storage=ObjectStorage(bucket='landing', "
                "existing=os.environ.get('SHARED') == '1'))\n"
            ),
            "os.environ",
        ),
        (ENV + "import os\nbucket = env.s3('landing', existing=bool(os.environ))\n", "bool("),
    ],
    ids=["object-storage", "s3"],
)
def test_a_dynamic_existing_is_a_diagnostic_not_a_default(
    tmp_path: Path, body: str, argument: str
) -> None:
    """Guessing would create a bucket another system owns, or never create one: GLC005."""
    module, source = _write(tmp_path, body)
    findings = [d for d in analyze([module]).diagnostics if d.severity == "error"]
    assert [(d.code, d.line, d.column) for d in findings] == [
        ("GLC005", *_position(source, argument))
    ]
    assert "existing" in findings[0].message
    assert "existing=True" in (findings[0].hint or "")


def test_the_finding_can_be_suppressed_on_its_line(tmp_path: Path) -> None:
    module, _ = _write(tmp_path, "compute = Serverless(memory_mb=0)  # glacier: ignore[GLC402]\n")
    assert _config_findings(module) == []
