"""The image of ``Container`` tasks: the bundle built with its Dockerfile, pushed to ECR."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_aws as aws

from glacier_aws._deploy_code import refuse_stale_sources
from glacier_aws._deploy_tasks import _check_name, _tags

__all__ = ["ContainerImage", "context_digest"]

_REPOSITORY = re.compile(r"[^a-z0-9]+")


def context_digest(context: str) -> str:
    """A SHA-256 over every file of the build context (paths, modes, bytes), in a stable order.

    It tags the pushed image: a changed context gets a new tag, so immutable tags are never
    pushed twice, and an unchanged one is not rebuilt.
    """
    digest = hashlib.sha256()
    for here, dirs, names in os.walk(context):
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(here, name)
            rel = os.path.relpath(path, context).replace(os.sep, "/")
            executable = os.stat(path).st_mode & 0o111
            digest.update(f"{rel}\0{'x' if executable else '-'}\0".encode())
            with open(path, "rb") as fh:
                digest.update(hashlib.sha256(fh.read()).digest())
    return digest.hexdigest()


def _repository_name(name: str) -> str:
    """``glacier/<stack>/<name>``: lowercase, valid for ECR, one repository per stack."""
    parts = ("glacier", pulumi.get_stack(), name)
    return "/".join(_REPOSITORY.sub("-", p.lower()).strip("-") or "glacier" for p in parts)


def _keep_last(count: int) -> str:
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"keep the {count} most recent images",
                    "selection": {
                        "tagStatus": "any",
                        "countType": "imageCountMoreThan",
                        "countNumber": count,
                    },
                    "action": {"type": "expire"},
                }
            ]
        }
    )


class ContainerImage(pulumi.ComponentResource):
    """The pipeline's ECR repository, and ``context`` built and pushed into it.

    The repository (``glacier/<stack>/<name>``) scans images on push, has immutable tags, is
    encrypted (AES256) and keeps the ``keep_images`` most recent images (a lifecycle policy).
    The image is built with ``pulumi_docker_build`` from ``context`` and its ``Dockerfile``
    for ``linux/amd64`` (the X86_64 of ``FargateTask``), tagged with ``context_digest`` and
    pushed with a token from ``aws.ecr.get_authorization_token``. Building needs Docker
    (BuildKit) where ``pulumi up`` runs; previews do not build (``build_on_preview=False``).

    ``image_uri`` is the pushed image by digest (``<repository URL>@sha256:...``): task
    definitions run exactly what was built, whatever happens to tags later.
    """

    repository: aws.ecr.Repository
    lifecycle_policy: aws.ecr.LifecyclePolicy
    image: Any  # pulumi_docker_build.Image
    image_uri: pulumi.Output[str]
    repository_arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        context: str = "./bundle",
        dockerfile: str | None = None,
        platform: str = "linux/amd64",
        keep_images: int = 10,
        force_delete: bool = True,
        tags: Mapping[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        # Imported here: only programs that build an image install pulumi-docker-build.
        import pulumi_docker_build as docker_build

        if keep_images < 1:
            raise ValueError("keep_images must be at least 1: the running image must stay")
        super().__init__("glacier:aws:ContainerImage", _check_name(name), None, opts)
        refuse_stale_sources(context)
        child = pulumi.ResourceOptions(parent=self)
        self.repository = aws.ecr.Repository(
            f"{name}-repository",
            name=_repository_name(name),
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            encryption_configurations=[{"encryption_type": "AES256"}],
            # Images are build outputs, rebuilt from the bundle: `pulumi destroy` removes them.
            force_delete=force_delete,
            tags=_tags(tags),
            opts=child,
        )
        self.lifecycle_policy = aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            repository=self.repository.name,
            policy=_keep_last(keep_images),
            opts=pulumi.ResourceOptions(parent=self.repository),
        )
        token = aws.ecr.get_authorization_token_output(
            registry_id=self.repository.registry_id,
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        tag = context_digest(context)[:32]
        self.image = docker_build.Image(
            f"{name}-image",
            context={"location": context},
            dockerfile={"location": dockerfile or os.path.join(context, "Dockerfile")},
            platforms=[docker_build.Platform(platform)],
            push=True,
            build_on_preview=False,
            tags=[self.repository.repository_url.apply(lambda url: f"{url}:{tag}")],
            registries=[
                {
                    "address": self.repository.repository_url,
                    "username": token.user_name,
                    "password": pulumi.Output.secret(token.password),
                }
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.lifecycle_policy]),
        )
        self.image_uri = pulumi.Output.concat(
            self.repository.repository_url, "@", self.image.digest
        )
        self.repository_arn = self.repository.arn
        self.register_outputs({"image_uri": self.image_uri, "repository_arn": self.repository_arn})
