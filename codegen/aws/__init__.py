"""Code generation for AWS: one Pulumi program per environment, the task bundle, the ASL.

- ``emit_programs(analysis, model)``: every file under ``build/<pipeline>/pulumi/<env>/``
  (``aws_artifacts`` is the same as an emitter of ``codegen._build``);
- ``deployment_diagnostics(analysis, model)``: what keeps a pipeline from being deployed
  (``GLC301``-``GLC307``);
- ``package_bundle(bundle_dir)``: ``glacier build --package``, third-party wheels for Lambda.

Nothing here imports pulumi; ``codegen.aws._preview`` does, and runs only in a child process.
"""

from codegen.aws._asl import state_machine as state_machine
from codegen.aws._asl import state_machine_json as state_machine_json
from codegen.aws._diagnostics import deployment_diagnostics as deployment_diagnostics
from codegen.aws._emit import aws_artifacts as aws_artifacts
from codegen.aws._emit import emit_programs as emit_programs
from codegen.aws._emit import pipeline_home as pipeline_home
from codegen.aws._package import package_bundle as package_bundle

__all__ = [
    "aws_artifacts",
    "deployment_diagnostics",
    "emit_programs",
    "package_bundle",
    "pipeline_home",
    "state_machine",
    "state_machine_json",
]
