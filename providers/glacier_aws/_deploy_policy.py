"""Least-privilege IAM statements of the deployment's roles (the data grants are
``glacier_aws.grants``'s, re-exported here).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import pulumi

from glacier_aws.grants import (
    KMS_READ_ACTIONS,
    KMS_WRITE_ACTIONS,
    READ_ACTIONS,
    ROLE_POLICY_LIMIT,
    WRITE_ACTIONS,
    DatasetLocation,
    dataset_statements,
    key_prefix,
    policy_size,
)

__all__ = [
    "KMS_READ_ACTIONS",
    "KMS_WRITE_ACTIONS",
    "READ_ACTIONS",
    "ROLE_POLICY_LIMIT",
    "WRITE_ACTIONS",
    "DatasetLocation",
    "dataset_statements",
    "ecr_repository_arn",
    "image_pull_statements",
    "key_prefix",
    "log_statements",
    "policy_document",
    "policy_size",
    "trust_policy",
    "xray_statements",
]

# <account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]/<repository>[:tag][@digest]
_ECR_IMAGE = re.compile(
    r"(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com"
    r"(?P<china>\.cn)?/(?P<repository>[a-z0-9][a-z0-9._/-]*?)"
    r"(?::[\w.-]+)?(?:@sha256:[0-9a-f]{64})?"
)


def log_statements(log_group_arn: Any) -> list[dict[str, Any]]:
    """Write to its own log group's streams only."""
    return [
        {
            "Sid": "OwnLogGroup",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [pulumi.Output.concat(log_group_arn, ":*")],
        }
    ]


def xray_statements() -> list[dict[str, Any]]:
    """X-Ray has no resource-level permissions: its write actions need ``*`` (not data)."""
    return [
        {
            "Sid": "XRayTracing",
            "Effect": "Allow",
            "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
            "Resource": "*",
        }
    ]


def policy_document(statements: Sequence[dict[str, Any]]) -> pulumi.Output[str]:
    """A policy document as JSON text; outputs inside the statements are resolved."""
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


def trust_policy(service: str, *, source_account: Any = None, source_arn: Any = None) -> Any:
    """Who may assume the role: one AWS service principal.

    With ``source_account`` / ``source_arn`` (``str`` or outputs), the service may assume
    it only on behalf of that account / resource: AWS's guard against the confused deputy.
    """
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    condition: dict[str, Any] = {}
    if source_account is not None:
        condition["StringEquals"] = {"aws:SourceAccount": source_account}
    if source_arn is not None:
        condition["ArnLike"] = {"aws:SourceArn": source_arn}
    if condition:
        statement["Condition"] = condition
    document = {"Version": "2012-10-17", "Statement": [statement]}
    if source_account is None and source_arn is None:
        return json.dumps(document)
    return pulumi.Output.json_dumps(document)


def ecr_repository_arn(image: str) -> str | None:
    """The ARN of the private ECR repository ``image`` is pulled from; None for any other
    registry (Docker Hub, ECR Public: their public images are pulled without IAM)."""
    match = _ECR_IMAGE.fullmatch(image)
    if match is None:
        return None
    region = match["region"]
    partition = (
        "aws-cn" if match["china"] else "aws-us-gov" if region.startswith("us-gov-") else "aws"
    )
    return f"arn:{partition}:ecr:{region}:{match['account']}:repository/{match['repository']}"


def image_pull_statements(
    image: pulumi.Input[str], repository_arn: pulumi.Input[str] | None = None
) -> list[dict[str, Any]]:
    """What an ECS execution role needs to pull ``image``: the registry token, and the layer
    actions on exactly its repository (``repository_arn``, or the one a literal private ECR
    URI names). An image from another registry needs neither."""
    if repository_arn is None and isinstance(image, str):
        repository_arn = ecr_repository_arn(image)
    if repository_arn is None:
        return []
    return [
        {
            # AWS gives GetAuthorizationToken no resource-level permissions: `*` is its only
            # possible resource, and the token alone reads nothing.
            "Sid": "RegistryToken",
            "Effect": "Allow",
            "Action": ["ecr:GetAuthorizationToken"],
            "Resource": "*",
        },
        {
            "Sid": "PullImage",
            "Effect": "Allow",
            "Action": [
                "ecr:BatchCheckLayerAvailability",
                "ecr:GetDownloadUrlForLayer",
                "ecr:BatchGetImage",
            ],
            "Resource": [repository_arn],
        },
    ]
