"""Rehearse a deployment: an environment's generated program, deployed and run on an emulator.

``glacier rehearse`` builds the program and runs ``python -m rehearse`` in a child process
(moto's state is global to a process, and the CLI never imports it). Nothing here imports
pulumi: the program runs under Pulumi's mocks in a child process of its own.
"""

from rehearse._rehearsal import RehearsalError as RehearsalError
from rehearse._rehearsal import Report as Report
from rehearse._rehearsal import TaskRecord as TaskRecord
from rehearse._rehearsal import rehearse as rehearse

__all__ = ["RehearsalError", "Report", "TaskRecord", "rehearse"]
