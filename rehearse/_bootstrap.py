"""What the Lambda runtime or a container does, in a child process of the rehearsal.

``python -I -S _bootstrap.py REQUEST RESULT``: REQUEST is a JSON file naming the import path
(the bundle first, then what the runtime provides), and either a Lambda handler with its event
or a container's ``python -m MODULE ARGS...`` command. The result (the handler's return value,
or Lambda's error shape: ``errorType``, ``errorMessage``, ``stackTrace``) is written to RESULT
as JSON; stdout and stderr are the function's logs. Only the standard library is used here:
nothing of the rehearsal's own environment leaks into the task's.
"""

from __future__ import annotations

import importlib
import json
import os
import runpy
import sys
import traceback


class _Context:
    """The parts of Lambda's context object a handler commonly reads."""

    def __init__(self, name: str, memory_mb: int, timeout_s: int) -> None:
        self.function_name = name
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = "glacier-rehearsal"
        self.invoked_function_arn = os.environ.get("GLACIER_REHEARSAL_FUNCTION_ARN", "")
        self._timeout_ms = timeout_s * 1000

    def get_remaining_time_in_millis(self) -> int:
        return self._timeout_ms


def _error(exc: BaseException) -> dict[str, object]:
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(type(exc), exc, exc.__traceback__),
    }


def main(request_path: str, result_path: str) -> int:
    with open(request_path, encoding="utf-8") as fh:
        request = json.load(fh)
    sys.path[:0] = request["path"]
    os.chdir(request["cwd"])
    status = 0
    try:
        if "module" in request:
            sys.argv = [request["module"], *request["args"]]
            try:
                runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
            except SystemExit as stop:
                status = (
                    stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
                )
            result: object = {"exitCode": status}
        else:
            module_name, function_name = request["handler"].rsplit(".", 1)
            handler = getattr(importlib.import_module(module_name), function_name)
            context = _Context(request["function"], request["memory_mb"], request["timeout_s"])
            result = handler(request["event"], context)
    except BaseException as exc:  # noqa: BLE001 - the runtime reports every failure
        traceback.print_exc()
        result, status = _error(exc), 1
    sys.stdout.flush()
    sys.stderr.flush()
    with open(result_path, "w", encoding="utf-8") as fh:
        json.dump(result, fh, default=repr)
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], sys.argv[2]))
