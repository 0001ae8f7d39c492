"""``Environment``: one AWS account and region, with tags and secure defaults.

Constructing an Environment never touches Pulumi: it records where it was written and
registers itself so ``pipeline.to_model()`` lists it. ``.s3()`` and ``.rds()`` create
pulumi_aws resources only while a Pulumi program runs; otherwise they return a description.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, cast

from glacier import providers, source, validate
from glacier_aws._describe import RdsDatabase, S3Bucket
from glacier_aws._runtime import pulumi_program_running

if TYPE_CHECKING:
    import pulumi_aws

__all__ = ["Environment"]

ACCESS_LOGS_CONFIG = "accessLogs"
"""The stack config key (namespace ``glacier``) turning S3 server access logging on or off."""

_PACKAGE_DIR = os.path.normcase(os.path.dirname(os.path.abspath(__file__))) + os.sep


class Environment:
    """An AWS account and region that infrastructure belongs to.

    ``account`` is the AWS account id as a string of digits (AWS ids have 12; shorter
    placeholder ids such as the design's ``"123456"`` are accepted here, and the provider's
    ``allowed_account_ids`` check rejects them at deploy time). ``tags`` are added to every
    resource, after ``glacier:environment=<name>`` and ``managed-by=glacier``.
    """

    def __init__(
        self,
        account: str,
        region: str,
        name: str,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        self._site = source.call_site(skip_modules=(_PACKAGE_DIR,))
        self.account: str = _check_account(account)
        self.region: str = _check_region(region)
        self.name: str = _check_name(name)
        self.tags: dict[str, str] = _check_tags(tags)
        self._provider: Any = None
        self._provider_monitor: Any = None
        self._access_logs: Any = None
        self._access_logs_monitor: Any = None
        providers.register_environment(self)

    def __repr__(self) -> str:
        return f"Environment(account={self.account!r}, region={self.region!r}, name={self.name!r})"

    @property
    def is_dev(self) -> bool:
        """``dev`` environments trade safety nets (deletion protection, Multi-AZ) for cost."""
        return self.name == "dev"

    @property
    def default_tags(self) -> dict[str, str]:
        """The tags every resource of this environment carries; the user's tags win."""
        return {"glacier:environment": self.name, "managed-by": "glacier", **self.tags}

    @property
    def provider(self) -> pulumi_aws.Provider:
        """The ``aws.Provider`` for this account and region, created once, on first use.

        Only available inside a Pulumi program; use it for raw Pulumi resources of this
        environment: ``opts=pulumi.ResourceOptions(provider=env.provider)``.
        """
        if not pulumi_program_running():
            raise RuntimeError(
                f"Environment {self.name!r} has no provider outside a Pulumi program"
            )
        import pulumi

        monitor = pulumi.runtime.settings.get_monitor()
        # A new program (a new monitor, e.g. another set_mocks run) needs a new provider.
        if self._provider is None or self._provider_monitor is not monitor:
            from glacier_aws._resources import create_provider

            self._provider = create_provider(self)
            self._provider_monitor = monitor
        provider: pulumi_aws.Provider = self._provider
        return provider

    @property
    def access_logs(self) -> pulumi_aws.s3.Bucket | None:
        """The bucket the S3 server access logs of this environment's buckets go to (S3.9),
        created once, on first use; None when access logging is off.

        On by default except in ``dev``; the stack's config ``glacier:accessLogs`` (``true``
        or ``false``) decides instead when set. Only available inside a Pulumi program.
        """
        if not pulumi_program_running():
            raise RuntimeError(
                f"Environment {self.name!r} has no access log bucket outside a Pulumi program"
            )
        import pulumi

        enabled = pulumi.Config("glacier").get_bool(ACCESS_LOGS_CONFIG)
        if not (not self.is_dev if enabled is None else enabled):
            return None
        monitor = pulumi.runtime.settings.get_monitor()
        if self._access_logs is None or self._access_logs_monitor is not monitor:
            from glacier_aws._resources import access_log_bucket

            self._access_logs = access_log_bucket(self)["bucket"]
            self._access_logs_monitor = monitor
        bucket: pulumi_aws.s3.Bucket = self._access_logs
        return bucket

    def s3(self, bucket: str, *, existing: bool = False, **overrides: Any) -> S3Bucket:
        """An S3 bucket with secure defaults; see ``docs/deploy-aws.md``.

        Keyword ``overrides`` go to ``aws.s3.Bucket`` and win over the defaults (``tags``
        are merged over the environment's, ``opts`` merged into the resource options).
        These keys configure the companion resources instead (``None`` omits one):
        ``public_access_block`` (dict over the four ``True`` flags), ``encryption`` (dict
        over ``{"sse_algorithm": "AES256"}``, may add ``kms_master_key_id`` and
        ``bucket_key_enabled``), ``versioning`` (status, default ``"Enabled"``),
        ``ownership`` (default ``"BucketOwnerEnforced"``), ``policy`` (a policy document
        replacing the TLS-only one), ``policy_statements`` (statements appended to it) and
        ``lifecycle`` (a list of rules replacing the default one, which removes noncurrent
        versions after 90 days, expired delete markers and abandoned uploads) and
        ``access_logs`` (a dict of ``target_bucket`` and ``target_prefix`` replacing the
        environment's log bucket, see ``access_logs``).
        The bucket is protected and, like its companions, retained on delete.

        ``existing=True`` names a bucket another system owns: inside a Pulumi program it is
        looked up (a missing bucket fails the preview), nothing is created or changed. The
        only override it takes is ``encryption``, describing the bucket's own SSE-KMS key so
        that task roles get ``kms:Decrypt``/``kms:GenerateDataKey`` on it.
        """
        _raise(validate.existing(existing))
        # an existing bucket's name is S3's to judge (dots allowed); Glacier creates none
        _raise((validate.existing_s3_bucket if existing else validate.s3_bucket)(bucket))
        if existing and set(overrides) - {"encryption"}:
            unused = ", ".join(sorted(set(overrides) - {"encryption"}))
            raise TypeError(
                f"s3({bucket!r}, existing=True) takes no {unused}: Glacier does not create or "
                "configure a bucket another system owns"
            )
        tags = {**self.default_tags, **_check_tags(overrides.get("tags"))}
        frozen = MappingProxyType(dict(overrides))
        if not pulumi_program_running():
            return S3Bucket(self, bucket, MappingProxyType(tags), frozen, existing=existing)
        if existing:
            from glacier_aws._resources import existing_bucket

            return S3Bucket(
                self,
                bucket,
                MappingProxyType(tags),
                frozen,
                existing=True,
                resource=existing_bucket(bucket, provider=self.provider),
            )
        from glacier_aws._resources import create_bucket

        resources = create_bucket(self, bucket, tags, dict(overrides))
        return S3Bucket(
            self,
            bucket,
            MappingProxyType(tags),
            frozen,
            resource=resources["bucket"],
            resources=MappingProxyType(resources),
        )

    def rds(self, name: str, **overrides: Any) -> RdsDatabase:
        """An RDS PostgreSQL instance (identifier ``name``) with secure defaults.

        Keyword ``overrides`` go to ``aws.rds.Instance`` and win over the defaults; ``tags``
        are merged over the environment's, ``opts`` merged into the resource options, and
        ``vpc_security_group_ids`` added to Glacier's group. Inside a Pulumi program the
        instance is placed in the stack's subnets (``glacier:subnets``), with a DB subnet
        group and a security group of its own, an Enhanced Monitoring role
        (``monitoring_interval=0`` or your own ``monitoring_role_arn`` drops it) and a log
        group per exported log, kept ``log_retention_days`` (default 365).
        """
        _raise(validate.rds_name(name))
        tags = {**self.default_tags, **_check_tags(overrides.get("tags"))}
        frozen = MappingProxyType(dict(overrides))
        if not pulumi_program_running():
            return RdsDatabase(self, name, MappingProxyType(tags), frozen)
        from glacier_aws._resources import create_database

        resources = create_database(self, name, tags, dict(overrides))
        return RdsDatabase(
            self,
            name,
            MappingProxyType(tags),
            frozen,
            resource=resources["instance"],
            resources=MappingProxyType(resources),
        )


def _raise(error: Exception | None) -> None:
    """Raise what a rule of ``glacier.validate`` (shared with ``glacier check``) found."""
    if error is not None:
        raise error


def _check_account(account: object) -> str:
    _raise(validate.account(account))
    return cast(str, account)


def _check_region(region: object) -> str:
    _raise(validate.region(region))
    return cast(str, region)


def _check_name(name: object) -> str:
    _raise(validate.environment_name(name))
    return cast(str, name)


def _check_tags(tags: object) -> dict[str, str]:
    _raise(validate.tags(tags))
    return dict(tags) if isinstance(tags, Mapping) else {}
