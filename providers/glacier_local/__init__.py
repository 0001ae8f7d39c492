"""Run Glacier pipelines on this machine.

>>> from glacier_local import LocalExecutor
>>> result = LocalExecutor().execute(pipeline)  # doctest: +SKIP

Storage layout and formats: see ``glacier_local._io``; scheduling semantics (parallelism,
retries, timeouts, process mode): see ``glacier_local._schedule``.
"""

from glacier_local._executor import LocalExecutor as LocalExecutor
from glacier_local._schedule import RunResult as RunResult
from glacier_local._schedule import TaskResult as TaskResult

__all__ = ["LocalExecutor", "RunResult", "TaskResult"]
