"""The Pulumi mocks recorder for tests: ``glacier_aws.mocks``, re-exported.

It lives in ``glacier_aws`` so that ``glacier plan`` can use it too; tests import it from
here (``from _pulumi_mocks import run_program``).
"""

from glacier_aws.mocks import (
    ACCOUNT,
    REGION,
    VPC,
    RecordedResource,
    RecordingMocks,
    Run,
    computed_outputs,
    is_taggable,
    run_program,
)

__all__ = [
    "ACCOUNT",
    "REGION",
    "VPC",
    "RecordedResource",
    "RecordingMocks",
    "Run",
    "computed_outputs",
    "is_taggable",
    "run_program",
]
