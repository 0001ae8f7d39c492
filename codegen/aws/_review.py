"""What a reviewer reads of a preview: a table (or JSON) of the resources a deploy would
create, with the few inputs worth reading per resource type, and warnings for what a
deployment would lack (bare buckets, a bundle without its packages).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from codegen.aws._package import missing_requirements

__all__ = ["KEY_PROPERTIES", "render", "warnings"]

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


def warnings(preview: dict[str, Any], program_dir: str) -> list[str]:
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
    for name in missing_requirements(os.path.join(program_dir, "bundle")):
        warnings.append(
            f"the bundle lacks `{name}` (bundle/requirements.txt): build with "
            "`glacier build --package` to vendor it for AWS Lambda"
        )
    return warnings


def render(previews: Sequence[dict[str, Any]], fmt: str) -> str:
    """``table``: one table per preview; ``json``: a list of their public form."""
    if fmt == "json":
        return json.dumps([_public(p) for p in previews], indent=2, sort_keys=True)
    return "\n".join(_table(p) for p in previews)
