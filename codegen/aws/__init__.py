"""Code generation for AWS: one Pulumi program per environment, the task bundle, the ASL.

``emit_programs(analysis, model)`` gives every file under ``build/<pipeline>/pulumi/``;
``deployment_diagnostics`` what keeps a pipeline from being deployed; ``package_bundle``
vendors third-party wheels into a bundle (``glacier build --package``).
"""

from codegen.aws._asl import state_machine as state_machine
from codegen.aws._asl import state_machine_json as state_machine_json
from codegen.aws._emit import emit_programs as emit_programs
from codegen.aws._emit import pipeline_home as pipeline_home

__all__ = ["emit_programs", "pipeline_home", "state_machine", "state_machine_json"]
