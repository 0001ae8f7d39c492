"""Run one task the way AWS would: a child process with the role's credentials and no more.

The child is ``python -I -S`` (no site-packages, no user environment variables): its import
path is the bundle, its vendored packages when it was built with ``--package``, and the
packages AWS Lambda's Python runtime provides (boto3 and what it needs). A bundle that lacks
its requirements gets the rehearsal's own site-packages instead, with a warning, since the
task could not run at all otherwise. Its environment is the function's (or container's)
configured variables, the credentials of the task's role (assumed through STS), the region,
and the emulator's endpoint; nothing else of the caller's environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass

from codegen.aws import missing_requirements

__all__ = ["ChildResult", "TaskProcess", "lambda_runtime_dir"]

# What AWS Lambda's Python runtimes ship besides the standard library.
_LAMBDA_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")
_BOOTSTRAP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_bootstrap.py")


@dataclass(frozen=True, slots=True)
class ChildResult:
    result: object
    failed: bool
    duration_s: float
    log: str


def lambda_runtime_dir(root: str) -> str:
    """A directory holding only the packages the Lambda runtime provides (symlinks)."""
    target = os.path.join(root, "lambda-runtime")
    os.makedirs(target, exist_ok=True)
    site = sysconfig.get_paths()["purelib"]
    for name in _LAMBDA_PROVIDED:
        for candidate in (name, name + ".py"):
            source = os.path.join(site, candidate)
            link = os.path.join(target, candidate)
            if os.path.exists(source) and not os.path.lexists(link):
                os.symlink(source, link)
    return target


class TaskProcess:
    """Runs handlers and container commands in child processes; one per rehearsal."""

    def __init__(self, work_dir: str, endpoint: str, region: str) -> None:
        self.work_dir = work_dir
        self.endpoint = endpoint
        self.region = region
        self.runtime = lambda_runtime_dir(work_dir)
        self.site_packages = sysconfig.get_paths()["purelib"]
        self.borrowed: set[str] = set()
        """Bundles that run on the rehearsal's site-packages (their requirements missing)."""

    def _path(self, bundle: str) -> list[str]:
        path = [bundle, self.runtime]
        if missing_requirements(bundle):
            self.borrowed.add(bundle)
            path.append(self.site_packages)
        return path

    def _environment(
        self, variables: dict[str, str], credentials: dict[str, str]
    ) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": "UTC",
            "HOME": self.work_dir,
            "TMPDIR": tempfile.gettempdir(),
            **variables,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
            "AWS_ENDPOINT_URL": self.endpoint,
        }
        if credentials.get("SessionToken"):
            env["AWS_SESSION_TOKEN"] = credentials["SessionToken"]
        return env

    def run_handler(
        self,
        *,
        function: str,
        bundle: str,
        handler: str,
        event: object,
        variables: dict[str, str],
        credentials: dict[str, str],
        timeout_s: int,
        memory_mb: int,
    ) -> ChildResult:
        request: dict[str, object] = {
            "path": self._path(bundle),
            "cwd": bundle,
            "handler": handler,
            "event": event,
            "function": function,
            "memory_mb": memory_mb,
            "timeout_s": timeout_s,
        }
        env = self._environment(
            {**variables, "AWS_LAMBDA_FUNCTION_NAME": function, "LAMBDA_TASK_ROOT": bundle},
            credentials,
        )
        return self._run(request, env, timeout_s)

    def run_module(
        self,
        *,
        bundle: str,
        module: str,
        args: list[str],
        variables: dict[str, str],
        credentials: dict[str, str],
        timeout_s: int,
    ) -> ChildResult:
        request: dict[str, object] = {
            "path": self._path(bundle),
            "cwd": bundle,
            "module": module,
            "args": args,
        }
        return self._run(request, self._environment(variables, credentials), timeout_s)

    def _run(self, request: dict[str, object], env: dict[str, str], timeout_s: int) -> ChildResult:
        with tempfile.TemporaryDirectory(prefix="invoke-", dir=self.work_dir) as tmp:
            request_path, result_path = os.path.join(tmp, "request"), os.path.join(tmp, "result")
            with open(request_path, "w", encoding="utf-8") as fh:
                json.dump(request, fh)
            started = time.monotonic()
            try:
                completed = subprocess.run(
                    [sys.executable, "-I", "-S", _BOOTSTRAP, request_path, result_path],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=timeout_s,
                    check=False,
                )
            except subprocess.TimeoutExpired as expired:
                log = _text(expired.stdout) + _text(expired.stderr)
                error = {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": f"Task timed out after {timeout_s:.2f} seconds",
                }
                return ChildResult(error, True, time.monotonic() - started, log)
            duration = time.monotonic() - started
            log = completed.stdout + completed.stderr
            try:
                with open(result_path, encoding="utf-8") as fh:
                    result = json.load(fh)
            except (OSError, ValueError):
                error = {
                    "errorType": "Runtime.ExitError",
                    "errorMessage": f"the task process exited with {completed.returncode}",
                }
                return ChildResult(error, True, duration, log)
            return ChildResult(result, completed.returncode != 0, duration, log)


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data
