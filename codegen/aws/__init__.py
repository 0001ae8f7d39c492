"""Code generation for AWS: one Pulumi program per environment, the task bundle, the ASL.

- ``TARGET``: AWS as a deployment target (``codegen.DeploymentTarget``), what the CLI uses;
- ``emit_programs(analysis, model)``: every file under ``build/<pipeline>/pulumi/<env>/``
  (``aws_artifacts`` is the same as an emitter of ``codegen._build``);
- ``deployment_diagnostics(analysis, model)``: what keeps a pipeline from being deployed
  (``GLC301``-``GLC307``);
- ``package_bundle(bundle_dir)``: ``glacier build --package``, third-party wheels for Lambda.

- ``preview_in_child(program_dir, stack)``: what a program registers under Pulumi's mocks,
  run in a child process (``PreviewFailed`` when it fails);
- ``missing_requirements(bundle)``: what ``glacier build --package`` did not vendor yet.

Nothing here imports pulumi; ``codegen.aws._preview`` does, and runs only in a child process.
"""

from codegen.aws._asl import state_machine as state_machine
from codegen.aws._asl import state_machine_json as state_machine_json
from codegen.aws._diagnostics import deployment_diagnostics as deployment_diagnostics
from codegen.aws._emit import aws_artifacts as aws_artifacts
from codegen.aws._emit import emit_programs as emit_programs
from codegen.aws._emit import pipeline_home as pipeline_home
from codegen.aws._package import missing_requirements as missing_requirements
from codegen.aws._package import package_bundle as package_bundle
from codegen.aws._preview import PreviewFailed as PreviewFailed
from codegen.aws._preview import preview_in_child as preview_in_child
from codegen.aws._target import TARGET as TARGET

__all__ = [
    "TARGET",
    "PreviewFailed",
    "aws_artifacts",
    "deployment_diagnostics",
    "emit_programs",
    "missing_requirements",
    "package_bundle",
    "pipeline_home",
    "preview_in_child",
    "state_machine",
    "state_machine_json",
]
