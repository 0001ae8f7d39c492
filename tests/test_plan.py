"""``glacier plan``: the preview of an environment's program, through the CLI runner.

Also here: ``--package`` vendoring (``codegen.aws._package``) with a wheel built on the spot,
and the deployment diagnostics (``GLC3xx``) on small fixture projects.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from _codegen_support import tiny_wheel, write_files
from click.testing import CliRunner

from analyzer import analyze
from codegen.aws import emit_programs
from codegen.aws._diagnostics import CODES, deployment_diagnostics
from codegen.aws._package import package_bundle
from glacier_cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def _plan(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["plan", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.slow
def test_plan_table_lists_the_deployment(tmp_path: Path) -> None:
    # `--out` to an empty directory: the bundle is the generated one, never packaged.
    code, out, err = _plan(str(EXAMPLES / "orders"), "--env", "default", "--out", str(tmp_path))
    assert code == 0, err
    lines = out.splitlines()
    # the landing bucket is `existing=True`, looked up, not one of the program's resources
    assert lines[0] == "pipeline `orders`, environment `default`: 72 resources"
    assert lines[1].split() == ["TYPE", "NAME", "KEY", "PROPERTIES"]
    rows = {(line.split()[0], line.split()[1]): line for line in lines[2:-1]}
    function = rows[("aws:lambda/function:Function", "orders-validate-function")]
    assert 'runtime="python3.12"' in function and "memorySize=256" in function
    assert "timeout=60" in function
    rule = rows[("aws:cloudwatch/eventRule:EventRule", "orders-schedule")]
    assert 'scheduleExpression="rate(1 day)"' in rule
    assert ("aws:ecs/taskDefinition:TaskDefinition", "orders-rank_customers-task") in rows
    # the image of `Container()`, built and pushed by the program
    assert ("docker-build:index:Image", "orders-image-image") in rows
    assert ("aws:ecr/repository:Repository", "orders-image-repository") in rows
    # The `rejections` table: its URL secret, and the task security group in the VPC.
    for row in (
        ("aws:secretsmanager/secret:Secret", "orders-database-url-secret"),
        ("aws:secretsmanager/secretVersion:SecretVersion", "orders-database-url-version"),
        ("aws:ec2/securityGroup:SecurityGroup", "orders-network-tasks"),
        ("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", "orders-network-tasks-egress"),
        # the Fargate task that touches no table: a group of its own, not the VPC's default
        ("aws:ec2/securityGroup:SecurityGroup", "orders-containers-tasks"),
    ):
        assert row in rows, row
    assert ("aws:s3/bucket:Bucket", "orders-reports") in rows
    assert not [key for key in rows if key[1].startswith("orders-landing")]
    assert lines[-1] == (
        "placeholders used for configuration a deployer sets: glacier:databaseUrl, glacier:subnets"
    )
    # `rejections` is a table: the deployed handler reaches it through psycopg.
    warning = (
        "warning: orders (default): the bundle lacks `psycopg` (bundle/requirements.txt): "
        "build with `glacier build --package` to vendor it for AWS Lambda"
    )
    assert [line for line in err.splitlines() if "warning" in line] == [warning]


@pytest.mark.slow
def test_plan_json_for_an_environment_program() -> None:
    code, out, err = _plan(
        str(EXAMPLES / "layer2_environments.py"), "--env", "prod", "--format", "json"
    )
    assert code == 0, err
    (result,) = json.loads(out)
    assert result["pipeline"] == "sales" and result["environment"] == "prod"
    types = [r["type"] for r in result["resources"]]
    assert types.count("aws:lambda/function:Function") == 2
    provider = next(r for r in result["resources"] if r["type"] == "pulumi:providers:aws")
    assert provider["properties"] == {"region": "us-east-1", "allowedAccountIds": ["123456789012"]}
    bucket = next(r for r in result["resources"] if r["name"] == "prod-data")
    assert bucket["properties"] == {"bucket": "prod-data", "env": "prod"}
    assert result["placeholders"] == [] and result["warnings"] == []

    code, out, err = _plan(
        str(EXAMPLES / "layer2_environments.py"), "--env", "dev", "--format", "json"
    )
    assert code == 0, err
    (dev,) = json.loads(out)
    assert sorted({r["type"] for r in dev["resources"]} - {"pulumi:providers:aws"}) == [
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketVersioning:BucketVersioning",
    ]


@pytest.mark.slow
def test_plan_warns_about_bare_user_buckets(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "bare.py").write_text(
        textwrap.dedent(
            """
            import pulumi_aws as aws
            from glacier import Dataset, Pipeline

            pipeline = Pipeline(name="bare")
            bucket = aws.s3.Bucket("bare-data", bucket="bare-data")
            logs = aws.s3.Bucket("bare-logs")
            data = Dataset(name="data", storage=bucket)


            @pipeline.task()
            def make() -> data:
                return [1]
            """
        )
    )
    out_dir = tmp_path / "build"
    code, _out, err = _plan(str(tmp_path / "bare.py"), "--env", "default", "--out", str(out_dir))
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2
    assert all("public access block, encryption, ownership controls" in w for w in warnings)
    assert {w.split("`")[1] for w in warnings} == {"bare-data", "bare-logs"}


def test_plan_has_no_warning_for_the_examples_secured_raw_buckets() -> None:
    code, _out, err = _plan(str(EXAMPLES / "layer3_raw_pulumi.py"), "--env", "default")
    assert code == 0, err
    assert not [line for line in err.splitlines() if line.startswith("warning:")]


def test_plan_unknown_environment_is_a_usage_error() -> None:
    code, _out, err = _plan(str(EXAMPLES / "layer2_environments.py"), "--env", "staging")
    assert code == 2
    assert "no program for environment `staging` (known: dev, prod)" in err


def test_plan_without_the_aws_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    found = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name in ("pulumi", "pulumi_aws") else found(name, *a),
    )
    code, out, err = _plan(str(EXAMPLES / "layer1_local.py"), "--env", "default")
    assert code == 2
    assert err.strip().splitlines()[-1] == (
        'Error: glacier plan needs pulumi and pulumi_aws: install the extra: pip install "glacier[aws]"'
    )
    assert "Traceback" not in out + err


def test_the_cli_never_imports_pulumi() -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from glacier_cli import main\n"
        f"r = CliRunner().invoke(main, ['plan', {str(EXAMPLES / 'layer1_local.py')!r}, "
        "'--env', 'default', '--format', 'json'])\n"
        "assert r.exit_code == 0, r.output\n"
        "assert not [m for m in sys.modules if m == 'pulumi' or m.startswith('pulumi')], "
        "sorted(m for m in sys.modules if m.startswith('pulumi'))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)


# -- --package ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_package_vendors_wheels_for_the_lambda_platform(tmp_path: Path) -> None:
    wheels = tiny_wheel(tmp_path / "wheels")
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "requirements.txt").write_text("# comment\ntinydep==1.0\n")
    result = package_bundle(str(bundle), index_options=("--no-index", "--find-links", str(wheels)))
    assert result.requirements == ("tinydep==1.0",)
    platforms = [result.command[i + 1] for i, a in enumerate(result.command) if a == "--platform"]
    # pip takes the best wheel of either: pandas 3 publishes only manylinux_2_28 ones
    assert platforms == ["manylinux_2_28_x86_64", "manylinux2014_x86_64"]
    assert result.command[result.command.index("--python-version") + 1] == "3.12"
    assert (bundle / "tinydep" / "__init__.py").read_text() == "VALUE = 42\n"
    assert list(bundle.glob("tinydep-1.0.dist-info"))


def test_bundle_requirements_name_what_deployed_tasks_import(tmp_path: Path) -> None:
    """The task code's third-party imports, and what `_glacier_io` needs for its datasets:
    psycopg for a table, pyarrow for Parquet; never the standard library or boto3."""
    import importlib.metadata

    module = _project(
        tmp_path,
        """
        import json

        import boto3
        import notinstalled_pkg
        import pandas as pd

        from glacier import Database, Dataset, ObjectStorage, Pipeline

        pipeline = Pipeline(name="needs")
        frame = Dataset(name="frame", storage=ObjectStorage(bucket="b", format="parquet"))
        table = Dataset(name="table", storage=Database())


        @pipeline.task()
        def make() -> frame:
            return pd.DataFrame({"x": [json.dumps(notinstalled_pkg.X), boto3.__name__]})


        @pipeline.task()
        def load(f: frame) -> table:
            return f.to_dict("records")
        """,
    )
    analysis = analyze([str(module)])
    (model,) = analysis.pipelines
    text = emit_programs(analysis, model)["pulumi/default/bundle/requirements.txt"].decode()
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    version = importlib.metadata.version
    assert lines == [
        "notinstalled_pkg  # not installed where `glacier build` ran: version unknown",
        f"pandas=={version('pandas')}",
        f"psycopg[binary]=={version('psycopg')}",
        f"pyarrow=={version('pyarrow')}",
    ]
    # Neither is needed by a pipeline of plain JSON objects.
    analysis = analyze([str(EXAMPLES / "layer1_local.py")])
    (model,) = analysis.pipelines
    text = emit_programs(analysis, model)["pulumi/default/bundle/requirements.txt"].decode()
    assert [line for line in text.splitlines() if not line.startswith("#")] == []


def test_package_without_requirements_runs_nothing(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("# nothing\n")
    result = package_bundle(str(tmp_path))
    assert result.command == ()
    assert result.size.unzipped == len("# nothing\n")


def test_bundle_sizes_are_measured_and_attributed_to_their_distributions(tmp_path: Path) -> None:
    """Synthetic bundles: files of known sizes, a RECORD that owns some of them."""
    import os
    import zipfile

    from glacier_aws.archive import measure_bundle, package_sizes, write_bundle_zip

    bundle = tmp_path / "bundle"
    files = {
        "glacier_handler.py": b"x" * 1000,  # compresses well
        "bigpkg/core.so": os.urandom(50_000),  # does not
        "bigpkg.libs/libz.so": os.urandom(20_000),
        "bigpkg-2.0.dist-info/RECORD": b"bigpkg/core.so,,\nbigpkg.libs/libz.so,,\n",
        "small/__init__.py": os.urandom(3_000),
        "small/__pycache__/x.pyc": os.urandom(9_000),  # caches are not deployed
    }
    for rel, data in files.items():
        (bundle / rel).parent.mkdir(parents=True, exist_ok=True)
        (bundle / rel).write_bytes(data)
    size = measure_bundle(str(bundle))
    record = len(files["bigpkg-2.0.dist-info/RECORD"])
    assert size.unzipped == 1000 + 50_000 + 20_000 + record + 3_000
    path, _digest = write_bundle_zip(str(bundle), str(tmp_path))
    assert size.zipped == os.path.getsize(path)  # the real archive's size, not a guess
    assert 73_000 < size.zipped < size.unzipped + 1_000
    with zipfile.ZipFile(path) as archive:
        assert "small/__pycache__/x.pyc" not in archive.namelist()
    assert package_sizes(str(bundle)) == [
        ("bigpkg", 70_000),
        ("small", 3_000),
        ("glacier_handler.py", 1_000),
        ("bigpkg-2.0.dist-info", record),  # RECORD does not list itself here
    ]


def _packaged_project(tmp_path: Path) -> list[str]:
    """A one-task project importing `tinydep`, and the `glacier build --package` arguments."""
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n')
    (project / "jobs.py").write_text(
        "import tinydep\n\nfrom glacier import Dataset, Pipeline\n\n"
        'pipeline = Pipeline(name="jobs")\nout = Dataset(name="out")\n\n\n'
        "@pipeline.task()\ndef make() -> out:\n    return tinydep.VALUE\n"
    )
    wheels = tiny_wheel(tmp_path / "wheels")
    return [
        "build",
        str(project / "jobs.py"),
        "--out",
        str(tmp_path / "out"),
        "--package",
        "--pip-arg=--no-index",
        f"--pip-arg=--find-links={wheels}",
    ]


def test_build_package_reports_the_bundle_size_and_the_upload_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from glacier_aws import archive

    args = _packaged_project(tmp_path)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    (line,) = [x for x in result.stdout.splitlines() if "packaged" in x]
    assert re.search(r": tinydep \(\d+ files; [\d.]+ KB unzipped, [\d.]+ KB zipped\)$", line)
    assert "through its S3 artifacts bucket" not in result.stdout
    monkeypatch.setattr(archive, "LAMBDA_DIRECT_UPLOAD_LIMIT", 100)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "the program uploads the bundle through its S3 artifacts bucket" in result.stdout


def test_build_package_refuses_a_bundle_over_lambdas_unzipped_quota(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real quota needs 250 MB of wheels: the limit is lowered to what tinydep exceeds."""
    from glacier_aws import archive

    monkeypatch.setattr(archive, "LAMBDA_UNZIPPED_LIMIT", 1_000)
    result = CliRunner().invoke(main, _packaged_project(tmp_path))
    assert result.exit_code == 1
    (line,) = [x for x in result.stderr.splitlines() if "GLC305" in x]
    assert "the Lambda bundle of pipeline `jobs` is " in line
    assert "over AWS Lambda's 1.0 KB quota; largest: `_glacier_io.py` " in line
    assert re.search(r", `tinydep` 0\.\d KB, ", line)  # its module and dist-info, by RECORD
    assert "hint: run the pipeline's tasks on `Container` compute" in result.stderr
    assert "does not fit AWS Lambda" in result.stderr


@pytest.mark.slow
def test_plan_warns_until_the_bundle_is_packaged(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n')
    (project / "jobs.py").write_text(
        textwrap.dedent(
            """
            import tinydep

            from glacier import Dataset, Pipeline

            pipeline = Pipeline(name="jobs")
            out = Dataset(name="out")


            @pipeline.task()
            def make() -> out:
                return tinydep.VALUE
            """
        )
    )
    analysis = analyze([str(project / "jobs.py")])
    (model,) = analysis.pipelines
    files = emit_programs(analysis, model)
    assert b"tinydep  # not installed" in files["pulumi/default/bundle/requirements.txt"]
    out = project / "build"
    write_files(files, out / "jobs")
    args = [str(project / "jobs.py"), "--env", "default", "--out", str(out)]
    code, _out, err = _plan(*args)
    assert code == 0, err
    assert "the bundle lacks `tinydep`" in err
    bundle = out / "jobs" / "pulumi" / "default" / "bundle"
    (bundle / "requirements.txt").write_text("tinydep[fast]==1.0\n")  # an extra, as psycopg's
    wheels = tiny_wheel(tmp_path / "wheels")
    package_bundle(str(bundle), index_options=("--no-index", "--find-links", str(wheels)))
    code, _out, err = _plan(*args)
    assert code == 0, err
    assert "the bundle lacks" not in err


# -- deployment diagnostics ---------------------------------------------------------------------


def _project(tmp_path: Path, source: str) -> Path:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n')
    module = tmp_path / "pipe.py"
    module.write_text(textwrap.dedent(source))
    return module


def test_storage_in_two_environments_is_an_error(tmp_path: Path) -> None:
    module = _project(
        tmp_path,
        """
        from glacier import Dataset, Pipeline
        from glacier_aws import Environment

        pipeline = Pipeline(name="split")
        prod = Environment(account="123456789012", region="us-east-1", name="prod")
        dev = Environment(account="210987654321", region="eu-west-1", name="dev")
        a = Dataset(name="a", storage=prod.s3(bucket="prod-a"))
        b = Dataset(name="b", storage=dev.s3(bucket="dev-b"))


        @pipeline.task()
        def make() -> a:
            return 1


        @pipeline.task()
        def copy(x: a) -> b:
            return x
        """,
    )
    analysis = analyze([str(module)])
    (model,) = analysis.pipelines
    (diagnostic,) = deployment_diagnostics(analysis, model)
    assert diagnostic.code == "GLC301" and diagnostic.name == "storage-spans-environments"
    assert "GLC301" in CODES
    assert diagnostic.severity == "error"
    assert "`dev`, `prod`" in diagnostic.message and "`b` in `dev`" in diagnostic.message
    assert diagnostic.hint and "one environment" in diagnostic.hint
    assert (diagnostic.path, diagnostic.line) == ("pipe.py", 5)
    files = emit_programs(analysis, model)
    assert not [p for p in files if p.endswith("statemachine.asl.json")]
    code, _out, err = _plan(str(module), "--env", "prod")
    assert code == 1 and "GLC301" in err
    built = CliRunner().invoke(main, ["build", str(module), "--out", str(tmp_path / "build")])
    assert built.exit_code == 1
    assert "pipe.py:5:12: GLC301 " in built.stderr
    assert "glacier: errors found; nothing was built" in built.stderr
    assert not (tmp_path / "build").exists()


def test_several_environments_without_storage_is_ambiguous(tmp_path: Path) -> None:
    module = _project(
        tmp_path,
        """
        from glacier import Dataset, Pipeline
        from glacier_aws import Environment

        pipeline = Pipeline(name="where")
        prod = Environment(account="123456789012", region="us-east-1", name="prod")
        dev = Environment(account="210987654321", region="eu-west-1", name="dev")
        a = Dataset(name="a")


        @pipeline.task()
        def make() -> a:
            return 1
        """,
    )
    analysis = analyze([str(module)])
    (model,) = analysis.pipelines
    assert [d.code for d in deployment_diagnostics(analysis, model)] == ["GLC302"]


def test_one_environment_without_storage_deploys_there(tmp_path: Path) -> None:
    module = _project(
        tmp_path,
        """
        import pulumi
        import pulumi_aws as aws

        from glacier import Dataset, Pipeline
        from glacier_aws import Environment

        pipeline = Pipeline(name="solo")
        prod = Environment(account="123456789012", region="us-east-1", name="prod")
        topic = aws.sns.Topic("alerts", opts=pulumi.ResourceOptions(provider=prod.provider))
        a = Dataset(name="a")


        @pipeline.task()
        def make() -> a:
            return 1
        """,
    )
    analysis = analyze([str(module)])
    (model,) = analysis.pipelines
    assert deployment_diagnostics(analysis, model) == []
    files = emit_programs(analysis, model)
    assert sorted({p.split("/")[1] for p in files}) == ["prod"]
    main_py = files["pulumi/prod/__main__.py"].decode()
    assert (
        'topic = aws.sns.Topic("alerts", opts=pulumi.ResourceOptions(provider=prod.provider))'
        in main_py
    )
    assert "pulumi/prod/statemachine.asl.json" in files


def test_statement_using_two_environments_and_unknown_names_are_warned(tmp_path: Path) -> None:
    module = _project(
        tmp_path,
        """
        import pulumi
        import pulumi_aws as aws

        from glacier import Dataset, Pipeline
        from glacier_aws import Environment

        pipeline = Pipeline(name="mixed")
        prod = Environment(account="123456789012", region="us-east-1", name="prod")
        dev = Environment(account="210987654321", region="eu-west-1", name="dev")
        data = prod.s3(bucket="mixed-data")
        copy = aws.s3.Bucket(
            "copy", bucket=dev.name + "-copy", opts=pulumi.ResourceOptions(provider=prod.provider)
        )
        topic = aws.sns.Topic("t", name=undefined_name)
        a = Dataset(name="a", storage=data)


        @pipeline.task()
        def make() -> a:
            return 1
        """,
    )
    analysis = analyze([str(module)])
    (model,) = analysis.pipelines
    found = deployment_diagnostics(analysis, model)
    assert [(d.code, d.line) for d in found] == [("GLC303", 12), ("GLC304", 15)]
    assert "`prod` and `dev`" in found[0].message and "deployed with `prod`" in found[0].message
    assert found[0].severity == found[1].severity == "warning"
    assert "`undefined_name`" in found[1].message


def test_object_storage_buckets_s3_refuses_are_warned(tmp_path: Path) -> None:
    """Locally any non-empty name is a directory; the AWS program would fail on these."""
    module = _project(
        tmp_path,
        """
        from glacier import Dataset, ObjectStorage, Pipeline

        pipeline = Pipeline(name="names")
        a = Dataset(name="a", storage=ObjectStorage(bucket="Orders_Landing"))
        b = Dataset(name="b", storage=ObjectStorage(bucket="partner.landing", existing=True))
        c = Dataset(name="c", storage=ObjectStorage(bucket="partner.data"))
        d = Dataset(name="d", storage=ObjectStorage(bucket="x", existing=True))
        e = Dataset(name="e", storage=ObjectStorage(bucket="orders-reports"))


        @pipeline.task()
        def make(x: a, y: b, z: d) -> c:
            return 1


        @pipeline.task()
        def keep(x: c) -> e:
            return x
        """,
    )
    analysis = analyze([str(module)])
    assert [d for d in analysis.diagnostics if d.severity == "error"] == []
    (model,) = analysis.pipelines
    found = deployment_diagnostics(analysis, model)
    # `partner.landing` is fine: S3 accepts dots, and an existing bucket's name is a given
    assert [(d.code, d.line, d.severity) for d in found] == [
        ("GLC306", 5, "warning"),
        ("GLC306", 7, "warning"),
        ("GLC306", 8, "warning"),
    ]
    assert found[0].message.startswith(
        "the bucket `Orders_Landing` of dataset `a` is not a valid S3 bucket name, so the AWS "
        "program cannot create it: invalid bucket 'Orders_Landing'"
    )
    assert "cannot create it" in found[1].message  # dots: not in buckets Glacier creates
    assert "cannot find it" in found[2].message
    code, _, err = _plan(str(module), "--env", "default", "--out", str(tmp_path / "build"))
    assert code == 0, err  # a warning: the plan still runs
    assert err.count("GLC306") == 3


# -- snapshots of both formats ------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["table", "json"])
def test_plan_output_snapshot(fmt: str, snapshot) -> None:  # type: ignore[no-untyped-def]
    code, out, err = _plan(str(EXAMPLES / "layer1_local.py"), "--env", "default", "--format", fmt)
    assert code == 0, err
    assert out == snapshot


def test_findings_at_one_place_come_in_the_same_order_whatever_the_hash_seed(
    tmp_path: Path,
) -> None:
    """Two unknown names in one statement: two GLC304 on one line, ordered by message, not by
    the order of a set (string hashes vary between runs)."""
    module = _project(
        tmp_path,
        """
        import pulumi_aws as aws

        from glacier import Dataset, Pipeline
        from glacier_aws import Environment

        pipeline = Pipeline(name="twice")
        prod = Environment(account="123456789012", region="us-east-1", name="prod")
        data = prod.s3(bucket="twice-data")
        topic = aws.sns.Topic("t", name=first_unknown + second_unknown + third_unknown)
        a = Dataset(name="a", storage=data)


        @pipeline.task()
        def make() -> a:
            return 1
        """,
    )
    probe = (
        "import sys\n"
        "from analyzer import analyze\n"
        "from codegen.aws._diagnostics import deployment_diagnostics\n"
        "analysis = analyze([sys.argv[1]])\n"
        "for d in deployment_diagnostics(analysis, analysis.pipelines[0]):\n"
        "    print(d.code, d.line, d.message)\n"
    )
    outputs = set()
    for seed in ("0", "1", "2", "3"):
        done = subprocess.run(
            [sys.executable, "-c", probe, str(module)],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": seed, "GLACIER_CACHE_DIR": str(tmp_path / "c")},
        )
        outputs.add(done.stdout)
    (output,) = outputs
    found = [line for line in output.splitlines() if line.startswith("GLC304")]
    assert len(found) == 3 and found == sorted(found)
