"""The code of Lambda tasks: the bundle directory, uploaded directly or through S3."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_aws as aws

from glacier_aws._deploy_tasks import _check_name, _tags
from glacier_aws._resources import secure_bucket
from glacier_aws.archive import (
    LAMBDA_DIRECT_UPLOAD_LIMIT,
    LAMBDA_UNZIPPED_LIMIT,
    BundleSize,
    changed_sources,
    measure_bundle,
    write_bundle_zip,
)
from glacier_aws.grants import bucket_prefix

__all__ = ["LambdaBundle", "refuse_stale_sources"]


def refuse_stale_sources(path: str) -> None:
    """A warning when the sources changed since the bundle ``path`` was built (a `pulumi up`
    of it deploys the code it carries, not theirs), naming the files; with the stack's
    configuration ``glacier:strict`` true, a refusal (``ValueError``) instead."""
    changed = changed_sources(path)
    if not changed:
        return
    what = f"the sources changed since the bundle {path} was built ({', '.join(changed)})"
    if pulumi.Config("glacier").get_bool("strict"):
        raise ValueError(f"{what}: rebuild it with `glacier build` (glacier:strict is set)")
    pulumi.log.warn(f"{what}; this deploys the code it carries: rebuild it with `glacier build`")


class LambdaBundle(pulumi.ComponentResource):
    """The task bundle (``path``) as the code of a program's Lambda functions.

    Measured when the program runs: an archive of at most ``direct_upload_limit`` bytes
    (Lambda's 50 MB direct-upload quota) is passed to each function as a
    ``pulumi.FileArchive``. A larger one is zipped once (deterministically), uploaded as an
    ``aws.s3.BucketObjectv2`` into an artifacts bucket created here, and the functions use
    ``s3_bucket`` / ``s3_key`` with ``source_code_hash`` (the archive's SHA-256), so new code
    redeploys them. The artifacts bucket has the secure defaults of ``Environment.s3``; its
    lifecycle rule removes only superseded versions (after ``noncurrent_days``) and abandoned
    uploads, never the current archive. A bundle over Lambda's 250 MB unzipped quota is
    refused: no upload path can deploy it. A bundle older than its sources (its
    ``glacier_sources.json`` against the project's files) is deployed with a warning, or
    refused when the stack's ``glacier:strict`` is true. ``access_logs`` is the bucket the artifacts
    bucket's S3 server access logs go to (S3.9), if any.
    """

    size: BundleSize
    archive: pulumi.Archive | None
    bucket: aws.s3.Bucket | None
    object: aws.s3.BucketObjectv2 | None
    source_code_hash: str | None

    def __init__(
        self,
        name: str,
        *,
        path: str = "./bundle",
        direct_upload_limit: int = LAMBDA_DIRECT_UPLOAD_LIMIT,
        noncurrent_days: int = 30,
        force_destroy: bool = True,
        tags: Mapping[str, str] | None = None,
        access_logs: aws.s3.Bucket | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("glacier:aws:LambdaBundle", _check_name(name), None, opts)
        refuse_stale_sources(path)
        self.size = measure_bundle(path)
        if not self.size.fits_lambda:
            raise ValueError(
                f"the bundle {path} is {self.size.unzipped:,} bytes unzipped, over AWS Lambda's "
                f"{LAMBDA_UNZIPPED_LIMIT:,}; run `glacier build --package` for the largest "
                "packages, and run heavy tasks on `Container` compute"
            )
        self.archive = None
        self.bucket = self.object = None
        self.source_code_hash = None
        if self.size.zipped <= direct_upload_limit:
            self.archive = pulumi.FileArchive(path)
            self.register_outputs({})
            return
        zip_path, self.source_code_hash = write_bundle_zip(path)
        resources = secure_bucket(
            f"{name}-artifacts",
            tags=_tags(tags),
            parent=self,
            bucket_prefix=bucket_prefix(f"{name}-artifacts"),
            force_destroy=force_destroy,
            access_logs=access_logs,
        )
        self.bucket = resources["bucket"]  # type: ignore[assignment]
        assert self.bucket is not None
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-artifacts-lifecycle",
            bucket=self.bucket.id,
            rules=[
                {
                    "id": "expire-superseded-archives",
                    "status": "Enabled",
                    "filter": {"prefix": ""},
                    "noncurrent_version_expiration": {"noncurrent_days": noncurrent_days},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
                }
            ],
            opts=pulumi.ResourceOptions(parent=self.bucket, depends_on=[resources["versioning"]]),
        )
        self.object = aws.s3.BucketObjectv2(
            f"{name}-archive",
            bucket=self.bucket.id,
            key=f"lambda/{name}.zip",
            source=pulumi.FileAsset(zip_path),
            content_type="application/zip",
            tags=_tags(tags),
            # Encrypted by the bucket's default; the policy must exist before the upload.
            opts=pulumi.ResourceOptions(parent=self.bucket, depends_on=list(resources.values())),
        )
        self.register_outputs({"bucket": self.bucket.bucket, "key": self.object.key})

    def function_code(self) -> dict[str, Any]:
        """The ``aws.lambda_.Function`` arguments that deploy this code."""
        if self.archive is not None:
            return {"code": self.archive}
        assert self.bucket is not None and self.object is not None
        return {
            "s3_bucket": self.bucket.bucket,
            "s3_key": self.object.key,
            "source_code_hash": self.source_code_hash,
        }
