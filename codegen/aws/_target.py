"""AWS as a deployment target (``codegen._targets.DeploymentTarget``): Pulumi programs over
``glacier_aws``, previewed under Pulumi's mocks and rehearsed on moto, both in child processes.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from codegen._targets import Packaged, TargetError
from glacier.errors import UsageError

if TYPE_CHECKING:
    from analyzer import Analysis, Diagnostic
    from codegen._build import BuildContext
    from glacier.model import PipelineModel

__all__ = ["TARGET", "AwsTarget"]

_REHEARSE_EXTRA = 'install the extra: pip install "glacier[rehearse]"'
_AWS_EXTRA = 'install the extra: pip install "glacier[aws]"'


class AwsTarget:
    """Lambda or Fargate per task, Step Functions for the DAG, one program per environment
    under ``pulumi/<env>/``."""

    name = "aws"

    def diagnostics(self, analysis: Analysis, model: PipelineModel) -> list[Diagnostic]:
        from codegen.aws._diagnostics import deployment_diagnostics

        found: list[Diagnostic] = deployment_diagnostics(analysis, model)
        return found

    def artifacts(self, ctx: BuildContext) -> Mapping[str, str]:
        from codegen.aws._emit import aws_artifacts

        return aws_artifacts(ctx)

    def programs(self, analysis: Analysis, model: PipelineModel) -> dict[str, dict[str, bytes]]:
        from codegen.aws._emit import emit_programs

        programs: dict[str, dict[str, bytes]] = {}
        for path, data in emit_programs(analysis, model).items():
            _, env, rel = path.split("/", 2)
            programs.setdefault(env, {})[rel] = data
        return dict(sorted(programs.items()))

    def grants(
        self, analysis: Analysis, model: PipelineModel
    ) -> dict[str, dict[str, tuple[tuple[str, str], ...]]]:
        """``{env: {task: (resource, action) pairs}}``: the data grants of each task's role in
        the environment that deploys the pipeline (none when that cannot be decided), as the
        program writes them (``glacier_aws.grants``), pulumi-free (``glacier diff``)."""
        from codegen.aws._emit import _modules_of, pipeline_home
        from codegen.aws._policies import task_grants

        home = pipeline_home(model, _modules_of(analysis)).environment
        if home is None:
            return {}
        region = next((e.region for e in model.environments if e.name == home), None)
        return {home: task_grants(model, region)}

    def program_dir(self, env: str) -> str:
        return f"pulumi/{env}"

    def package(
        self, pipeline_dir: str, model: PipelineModel, pip_args: Sequence[str]
    ) -> Iterator[Packaged]:
        """Every bundle under ``pipeline_dir/pulumi/*/``: its requirements installed as wheels
        for Lambda, what pip added recorded as vendored (``codegen._writer``); ``GLC305`` when
        one is over Lambda's 250 MB unzipped quota."""
        from codegen._writer import all_files, record_vendored
        from codegen.aws._diagnostics import bundle_size_diagnostics, size_text
        from codegen.aws._package import package_bundle
        from glacier_aws.archive import LAMBDA_DIRECT_UPLOAD_LIMIT

        programs = os.path.join(pipeline_dir, "pulumi")
        for env in sorted(os.listdir(programs)) if os.path.isdir(programs) else ():
            bundle = os.path.join(programs, env, "bundle")
            if not os.path.isfile(os.path.join(bundle, "requirements.txt")):
                continue
            before = all_files(bundle)
            try:
                result = package_bundle(bundle, index_options=pip_args)
            except subprocess.CalledProcessError as exc:
                output = (exc.stderr or exc.stdout or "").rstrip()
                raise TargetError(f"pip failed for {bundle}:\n{output}") from None
            vendored = record_vendored(bundle, before)
            size = result.size
            wanted = ", ".join(result.requirements) or "nothing to install"
            notes = []
            if size.zipped > LAMBDA_DIRECT_UPLOAD_LIMIT:
                notes.append(
                    f"{size_text(size.zipped)} zipped is over Lambda's "
                    f"{size_text(LAMBDA_DIRECT_UPLOAD_LIMIT)} direct upload: "
                    "the program uploads the bundle through its S3 artifacts bucket"
                )
            yield Packaged(
                bundle=bundle,
                summary=(
                    f"{wanted} ({len(vendored)} files; {size_text(size.unzipped)} unzipped, "
                    f"{size_text(size.zipped)} zipped)"
                ),
                notes=tuple(notes),
                problems=tuple(bundle_size_diagnostics(bundle, model, size)),
                refused="does not fit AWS Lambda",
            )

    def preview(self, program_dir: str, env: str, built_dir: str) -> dict[str, Any]:
        from codegen.aws._preview import PreviewFailed, preview_in_child
        from codegen.aws._review import warnings

        missing = [m for m in ("pulumi", "pulumi_aws") if importlib.util.find_spec(m) is None]
        if missing:  # the program runs in a child process: say so before it fails there
            raise UsageError(f"glacier plan needs {' and '.join(missing)}: {_AWS_EXTRA}")
        try:
            preview = preview_in_child(program_dir, env)
        except PreviewFailed as failure:
            raise TargetError(
                f"the program of environment `{env}` failed under Pulumi's mocks:\n{failure}"
            ) from None
        bundle_home = built_dir if os.path.isdir(os.path.join(built_dir, "bundle")) else program_dir
        preview["warnings"] = warnings(preview, bundle_home)
        return preview

    def render_preview(self, previews: Sequence[dict[str, Any]], fmt: str) -> str:
        from codegen.aws._review import render

        return render(previews, fmt)

    def rehearse(
        self,
        program_dir: str,
        env: str,
        *,
        pipeline: str,
        data_dir: str,
        work_dir: str,
        report: str | None,
    ) -> int:
        """``python -m rehearse`` in a child process: moto's server, the program under
        Pulumi's mocks creating its resources there, the state machine executed."""
        missing = [m for m in ("moto", "boto3") if importlib.util.find_spec(m) is None]
        if missing:
            raise UsageError(f"glacier rehearse needs {', '.join(missing)}: {_REHEARSE_EXTRA}")
        if importlib.util.find_spec("pulumi_aws") is None:
            raise UsageError(f"glacier rehearse needs pulumi and pulumi-aws: {_REHEARSE_EXTRA}")
        command = [sys.executable, "-m", "rehearse", program_dir, env, "--pipeline", pipeline]
        command += ["--data-dir", os.path.abspath(data_dir), "--work-dir", work_dir]
        if report is not None:
            command += ["--report", os.path.abspath(report)]
        return subprocess.call(command, env={**os.environ, "PYTHONWARNINGS": "ignore"})


TARGET = AwsTarget()
