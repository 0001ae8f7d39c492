"""Code generation for AWS: one Pulumi program per environment, the task bundle, the ASL.

``emit_programs(analysis, model)`` gives every file under ``build/<pipeline>/pulumi/``;
``deployment_diagnostics`` what keeps a pipeline from being deployed; ``package_bundle``
vendors third-party wheels into a bundle (``glacier build --package``).
"""
