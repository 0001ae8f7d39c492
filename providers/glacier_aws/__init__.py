"""Glacier on AWS: ``Environment`` (account, region, tags, secure storage) over pulumi_aws.

Importing this package is cheap and never imports pulumi: resources are only created while
a Pulumi program runs; elsewhere ``Environment.s3()`` / ``.rds()`` return descriptions.
"""

from glacier_aws._describe import RdsDatabase as RdsDatabase
from glacier_aws._describe import S3Bucket as S3Bucket
from glacier_aws._environment import Environment as Environment
from glacier_aws._runtime import pulumi_program_running as pulumi_program_running

__all__ = ["Environment", "RdsDatabase", "S3Bucket", "pulumi_program_running"]
