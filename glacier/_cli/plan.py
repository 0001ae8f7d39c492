"""``glacier plan PATH --env NAME [--format table|json]``: what a deploy would create.

The environment's Pulumi program is generated (in a temporary directory; ``build/`` is not
touched) and run under Pulumi's mocks in a child process, which imports pulumi; this
command never does. Neither AWS credentials nor the Pulumi CLI are needed, so a reviewer can
read the preview in CI.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from typing import Any

import click

from glacier._cli._buildlib import analyse_or_exit, report, write_program

__all__ = ["plan"]

# resource type -> the inputs worth showing in a table, in order
KEY_PROPERTIES: dict[str, tuple[str, ...]] = {
    "pulumi:providers:aws": ("region", "allowedAccountIds"),
    "aws:s3/bucket:Bucket": ("bucket", "bucketPrefix", "forceDestroy"),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": ("bucket", "blockPublicAcls"),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "bucket",
    ),
    "aws:s3/bucketVersioning:BucketVersioning": ("bucket",),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": ("bucket",),
    "aws:s3/bucketPolicy:BucketPolicy": ("bucket",),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": ("bucket",),
    "aws:lambda/function:Function": ("runtime", "handler", "memorySize", "timeout"),
    "aws:ecs/taskDefinition:TaskDefinition": ("family", "cpu", "memory"),
    "aws:ecs/cluster:Cluster": (),
    "aws:iam/role:Role": ("description",),
    "aws:iam/rolePolicy:RolePolicy": ("role",),
    "aws:cloudwatch/logGroup:LogGroup": ("name", "retentionInDays"),
    "aws:sfn/stateMachine:StateMachine": ("type",),
    "aws:cloudwatch/eventRule:EventRule": ("scheduleExpression",),
    "aws:cloudwatch/eventTarget:EventTarget": ("rule",),
    "aws:rds/instance:Instance": ("engine", "instanceClass", "storageEncrypted"),
}
_COMPANIONS = {
    "public access block": "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "encryption": (
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ),
    "ownership controls": "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "bucket policy": "aws:s3/bucketPolicy:BucketPolicy",
}


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--env", "env", required=True, help="The environment whose program to preview.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="A table for people, JSON for tools.",
)
@click.option(
    "--out",
    "out_dir",
    default="build",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where `glacier build` wrote the bundles (checked for vendored packages).",
)
def plan(paths: tuple[str, ...], env: str, fmt: str, out_dir: str) -> None:
    """Preview the resources `pulumi up` would create for environment ENV, without AWS.

    The program is the one `glacier build` writes to build/<pipeline>/pulumi/<env>/; it runs
    under Pulumi's mocks, with placeholders for configuration only a deployer knows.
    """
    from codegen import dir_name
    from codegen.aws import emit_programs
    from codegen.aws._diagnostics import deployment_diagnostics

    analysis = analyse_or_exit(paths)
    report([d for d in analysis.diagnostics if d.severity != "error"])
    if not analysis.pipelines:
        click.echo("glacier plan: no pipelines found", err=True)
        sys.exit(1)
    results: list[dict[str, Any]] = []
    available: set[str] = set()
    failed = False
    for model in sorted(analysis.pipelines, key=lambda m: m.name):
        problems = deployment_diagnostics(analysis, model)
        report(problems)
        if any(d.severity == "error" for d in problems):
            failed = True
            continue
        files = emit_programs(analysis, model)
        envs = {path.split("/")[1] for path in files}
        available |= envs
        if env not in envs:
            continue
        with tempfile.TemporaryDirectory(prefix="glacier-plan-") as tmp:
            program_dir = write_program(files, env, os.path.join(tmp, "pulumi", env))
            preview = _preview(program_dir, env)
            built = os.path.join(out_dir, dir_name(model.name), "pulumi", env)
            bundle_home = built if os.path.isdir(os.path.join(built, "bundle")) else program_dir
            preview["warnings"] = _warnings(preview, bundle_home)
        preview["pipeline"] = model.name
        preview["environment"] = env
        results.append(preview)
    if failed:
        sys.exit(1)
    if not results:
        known = ", ".join(sorted(available)) or "none"
        click.echo(f"glacier plan: no program for environment `{env}` (known: {known})", err=True)
        sys.exit(2)
    if fmt == "json":
        click.echo(json.dumps([_public(r) for r in results], indent=2, sort_keys=True))
    else:
        for result in results:
            click.echo(_table(result))
    for result in results:
        for warning in result["warnings"]:
            click.echo(f"warning: {result['pipeline']} ({env}): {warning}", err=True)


def _preview(program_dir: str, env: str) -> dict[str, Any]:
    from codegen.aws._preview import PreviewFailed, preview_in_child

    try:
        return preview_in_child(program_dir, env)
    except PreviewFailed as failure:
        click.echo(str(failure), err=True)
        click.echo(f"glacier plan: the program of environment `{env}` failed", err=True)
        sys.exit(1)


def _key_properties(resource: dict[str, Any]) -> dict[str, Any]:
    keys = KEY_PROPERTIES.get(resource["type"], ())
    shown = {}
    for key in keys:
        value = resource["inputs"].get(key)
        if value is None or value == "":
            continue
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # the engine's numbers are floats
        if isinstance(value, str) and value[:1] == "[":
            try:
                value = json.loads(value)
            except ValueError:
                pass
        shown[key] = value
    tags = resource["inputs"].get("tags")
    if isinstance(tags, dict) and "glacier:environment" in tags:
        shown["env"] = tags["glacier:environment"]
    return shown


def _public(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "pipeline": result["pipeline"],
        "environment": result["environment"],
        "placeholders": result["placeholders"],
        "warnings": result["warnings"],
        "resources": [
            {
                "type": r["type"],
                "name": r["name"],
                "properties": _key_properties(r),
            }
            for r in sorted(result["resources"], key=lambda r: (r["type"], r["name"]))
        ],
    }


def _table(result: dict[str, Any]) -> str:
    rows = [
        (r["type"], r["name"], _format_properties(_key_properties(r)))
        for r in sorted(result["resources"], key=lambda r: (r["type"], r["name"]))
    ]
    headers = ("TYPE", "NAME", "KEY PROPERTIES")
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers[:2])]
    title = f"pipeline `{result['pipeline']}`, environment `{result['environment']}`"
    lines = [
        f"{title}: {len(rows)} resources",
        f"{headers[0]:<{widths[0]}}  {headers[1]:<{widths[1]}}  {headers[2]}",
    ]
    for kind, name, props in rows:
        lines.append(f"{kind:<{widths[0]}}  {name:<{widths[1]}}  {props}".rstrip())
    if result["placeholders"]:
        lines.append(
            "placeholders used for configuration a deployer sets: "
            + ", ".join(result["placeholders"])
        )
    return "\n".join(lines)


def _format_properties(props: dict[str, Any]) -> str:
    return " ".join(f"{k}={json.dumps(v, sort_keys=True)}" for k, v in props.items())


def _warnings(preview: dict[str, Any], program_dir: str) -> list[str]:
    """Deploy problems a reviewer should see: bare buckets, a bundle without its packages."""
    warnings = []
    resources = preview["resources"]
    for bucket in (r for r in resources if r["type"] == "aws:s3/bucket:Bucket"):
        name = bucket["outputs"].get("bucket")
        missing = [
            what
            for what, token in _COMPANIONS.items()
            if not any(r["type"] == token and r["inputs"].get("bucket") == name for r in resources)
        ]
        if missing:
            warnings.append(
                f"bucket `{bucket['name']}` has no {', '.join(missing)}: add them to its "
                "Pulumi code, or create it with `Environment.s3()` (secure by default)"
            )
    from codegen.aws._package import missing_requirements

    for name in missing_requirements(os.path.join(program_dir, "bundle")):
        warnings.append(
            f"the bundle lacks `{name}` (bundle/requirements.txt): build with "
            "`glacier build --package` to vendor it for AWS Lambda"
        )
    return warnings
