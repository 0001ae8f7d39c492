"""What ``Environment.s3()`` / ``.rds()`` return: one description class for both worlds.

Outside a Pulumi program the description is all there is: plain data a local run maps to its
storage layout. Inside a program it also holds the created resources and forwards unknown
attributes (``.arn``, ``.id``, ``.endpoint`` ...) to the main resource, so it can be used
wherever the Pulumi resource could.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from glacier.storage import kinds

if TYPE_CHECKING:
    from glacier_aws._environment import Environment

__all__ = ["RdsDatabase", "S3Bucket"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})
# The server-side encryption algorithms that encrypt with a KMS key (SSE-KMS, DSSE-KMS).
_KMS = ("aws:kms", "aws:kms:dsse")


class _Described:
    """Attribute forwarding shared by the descriptions."""

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails. Dunders and privates are never forwarded, so
        # copy/pickle/hasattr probes behave as for a plain object.
        if name.startswith("_"):
            raise AttributeError(name)
        resource = self.__dict__.get("resource")
        if resource is None:
            raise AttributeError(
                f"{type(self).__name__} has no attribute {name!r} outside a Pulumi program: "
                "its resources only exist when a Pulumi program (pulumi up, or "
                "pulumi.runtime.set_mocks) runs this code"
            )
        return getattr(resource, name)

    @property
    def created(self) -> bool:
        """Whether Pulumi resources were created (inside a Pulumi program)."""
        return self.__dict__.get("resource") is not None and not self.__dict__.get("existing")


@dataclass(frozen=True, eq=False, repr=False)
class S3Bucket(_Described):
    """An S3 bucket of an ``Environment``.

    ``bucket`` is the bucket's name (a plain ``str``; the Pulumi output is
    ``.resource.bucket``). ``tags`` are the tags applied to the bucket, ``overrides`` the
    keyword arguments the user passed. Inside a Pulumi program, ``resource`` is the
    ``aws.s3.Bucket`` and ``resources`` every resource created, by role: ``bucket``,
    ``public_access_block``, ``encryption``, ``versioning``, ``ownership``, ``policy``.

    ``existing`` marks a bucket another system owns: inside a program ``resource`` is the
    lookup's result (an output of ``aws.s3.GetBucketResult``: ``.arn``, ``.bucket``,
    ``.region`` ...) and ``resources`` is empty, nothing being created.
    """

    environment: Environment
    bucket: str
    tags: Mapping[str, str]
    overrides: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    resource: Any = None
    resources: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    existing: bool = False

    @property
    def kms_key_arn(self) -> Any:
        """The ``kms_master_key_id`` of an SSE-KMS ``encryption`` override, else ``None``.

        Task roles need ``kms:Decrypt`` / ``kms:GenerateDataKey`` on this key (the
        generated program passes it as ``DatasetLocation(kms_key=...)``). A ``str`` or an
        output such as ``key.arn``; ``None`` also for SSE-S3 and the AWS managed key.
        """
        encryption = self.overrides.get("encryption")
        if isinstance(encryption, Mapping) and encryption.get("sse_algorithm") in _KMS:
            return encryption.get("kms_master_key_id")
        return None

    def __glacier_storage__(self) -> dict[str, Any]:
        """The StorageModel fields of this storage (see ``glacier._runtime_model``)."""
        return {
            "kind": kinds.S3.name,
            "bucket": self.bucket,
            "environment": self.environment.name,
            "existing": self.existing,
        }

    def __repr__(self) -> str:
        state = "existing" if self.existing else "created" if self.created else "described"
        return f"S3Bucket(environment={self.environment.name!r}, bucket={self.bucket!r}, {state})"


@dataclass(frozen=True, eq=False, repr=False)
class RdsDatabase(_Described):
    """An RDS PostgreSQL instance of an ``Environment``.

    ``name`` is the DB instance identifier. Inside a Pulumi program, ``resource`` is the
    ``aws.rds.Instance`` and ``resources`` every resource created, by role: ``instance``,
    ``subnet_group`` (``aws.rds.SubnetGroup``), ``security_group`` (``aws.ec2.SecurityGroup``,
    which the deployment opens to the pipeline's tasks).
    """

    environment: Environment
    name: str
    tags: Mapping[str, str]
    overrides: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    resource: Any = None
    resources: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    def __glacier_storage__(self) -> dict[str, Any]:
        """The StorageModel fields of this storage (see ``glacier._runtime_model``)."""
        return {"kind": kinds.RDS.name, "name": self.name, "environment": self.environment.name}

    def __repr__(self) -> str:
        state = "created" if self.created else "described"
        return f"RdsDatabase(environment={self.environment.name!r}, name={self.name!r}, {state})"
