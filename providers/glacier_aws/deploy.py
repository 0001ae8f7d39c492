"""Deployment components: what a generated Pulumi program builds a pipeline from.

Import this only inside a Pulumi program (it imports pulumi and pulumi_aws). Each piece is
usable on its own; ``docs/deploy-aws.md`` shows how a program wires them and which AWS
Security Hub controls their defaults satisfy.
"""

from glacier_aws._deploy_code import LambdaBundle
from glacier_aws._deploy_database import (
    DatabaseUrlSecret,
    RdsAccess,
    TaskNetwork,
    vpc_access_statements,
)
from glacier_aws._deploy_flow import (
    PipelineSchedule,
    PipelineStateMachine,
    export_deployment,
    placeholders_in,
    substitute,
)
from glacier_aws._deploy_image import ContainerImage
from glacier_aws._deploy_policy import DatasetLocation, dataset_statements, image_pull_statements
from glacier_aws._deploy_tasks import (
    CONTAINER_NAME,
    CONTAINER_USER,
    LAMBDA_RUNTIMES,
    LOG_RETENTION_DAYS,
    FargateTask,
    LambdaTask,
    ScratchBucket,
    TaskRole,
    dataset_environment,
    ecs_cluster,
    log_group,
)
from glacier_aws._resources import (
    data_bucket,
    existing_bucket,
    secure_bucket,
    tls_only_statement,
)
from glacier_aws.archive import LAMBDA_DIRECT_UPLOAD_LIMIT, LAMBDA_UNZIPPED_LIMIT

__all__ = [
    "CONTAINER_NAME",
    "CONTAINER_USER",
    "LAMBDA_DIRECT_UPLOAD_LIMIT",
    "LAMBDA_RUNTIMES",
    "LAMBDA_UNZIPPED_LIMIT",
    "LOG_RETENTION_DAYS",
    "ContainerImage",
    "DatabaseUrlSecret",
    "DatasetLocation",
    "FargateTask",
    "LambdaBundle",
    "LambdaTask",
    "PipelineSchedule",
    "PipelineStateMachine",
    "RdsAccess",
    "ScratchBucket",
    "TaskNetwork",
    "TaskRole",
    "data_bucket",
    "dataset_environment",
    "dataset_statements",
    "ecs_cluster",
    "existing_bucket",
    "export_deployment",
    "image_pull_statements",
    "log_group",
    "placeholders_in",
    "secure_bucket",
    "substitute",
    "tls_only_statement",
    "vpc_access_statements",
]
