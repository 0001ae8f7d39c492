"""Layer 3: raw Pulumi, the escape hatch. Full control over the bucket.

Run it locally:  glacier run examples/layer3_raw_pulumi.py
The Pulumi resources below belong in a Pulumi program: `glacier build` carries these
statements verbatim into the generated program, and leaves them out of the local runner.
Locally the dataset lives under `.glacier/data/my-data/`, the bucket's Pulumi resource name.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from glacier import Dataset, Pipeline

pipeline = Pipeline(name="archive", description="Measurements archived to a versioned bucket.")


def secure(name: str, bucket: aws.s3.Bucket) -> None:
    """Private, encrypted, owner-enforced and TLS-only: what `Environment.s3()` does for you."""
    aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-encryption",
        bucket=bucket.id,
        rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
    )
    aws.s3.BucketOwnershipControls(
        f"{name}-ownership",
        bucket=bucket.id,
        rule={"object_ownership": "BucketOwnerEnforced"},
    )
    aws.s3.BucketPolicy(
        f"{name}-tls-only",
        bucket=bucket.id,
        policy=bucket.arn.apply(
            lambda arn: json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "DenyInsecureTransport",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [arn, f"{arn}/*"],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ],
                }
            )
        ),
    )


replica = aws.s3.Bucket("my-data-replica", bucket="my-data-replica")
secure("my-data-replica", replica)
aws.s3.BucketVersioning(
    "my-data-replica-versioning",
    bucket=replica.id,
    versioning_configuration={"status": "Enabled"},
)

bucket = aws.s3.Bucket("my-data", bucket="my-data")
secure("my-data", bucket)
versioning = aws.s3.BucketVersioning(
    "my-data-versioning",
    bucket=bucket.id,
    versioning_configuration={"status": "Enabled"},
)
aws.s3.BucketLifecycleConfiguration(
    "my-data-lifecycle",
    bucket=bucket.id,
    rules=[
        {
            "id": "archive",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "transitions": [
                {"days": 30, "storage_class": "GLACIER"},
                {"days": 90, "storage_class": "DEEP_ARCHIVE"},
            ],
        }
    ],
)

replication_role = aws.iam.Role(
    "my-data-replication",
    assume_role_policy=json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "s3.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    ),
)
aws.s3.BucketReplicationConfig(
    "my-data-replication",
    bucket=bucket.id,
    role=replication_role.arn,
    rules=[
        {
            "id": "replicate-all",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "delete_marker_replication": {"status": "Disabled"},
            "destination": {"bucket": replica.arn, "storage_class": "STANDARD_IA"},
        }
    ],
    opts=pulumi.ResourceOptions(depends_on=[versioning]),
)

measurements = Dataset[list[float]](name="measurements")
data = Dataset[dict[str, float]](name="data", storage=bucket)


def summarise(values: list[float]) -> dict[str, float]:
    return {
        "count": float(len(values)),
        "min": min(values),
        "max": max(values),
        "mean": round(sum(values) / len(values), 3),
    }


@pipeline.task()
def measure() -> measurements:
    return [round(0.5 * i * i - 3.0 * i + 7.0, 2) for i in range(20)]


@pipeline.task()
def archive(values: measurements) -> data:
    return summarise(values)
