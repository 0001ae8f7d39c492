"""Is a Pulumi program running right now? Decided without importing pulumi.

``import pulumi`` costs ~0.2 s and pulumi_aws more, and a module that uses ``Environment``
must still run locally. A Pulumi program (``pulumi up``, or a test under
``pulumi.runtime.set_mocks``) has always imported pulumi and configured a resource monitor;
anything else has not.
"""

from __future__ import annotations

import sys

__all__ = ["pulumi_program_running"]


def pulumi_program_running() -> bool:
    """True inside a Pulumi program or under ``pulumi.runtime.set_mocks``.

    If pulumi is not imported, no program can be running. If it is, its runtime settings
    hold a monitor exactly while a program (or the mocks) is active.
    """
    pulumi = sys.modules.get("pulumi")
    if pulumi is None:
        return False
    runtime = getattr(pulumi, "runtime", None)
    settings = getattr(runtime, "settings", None)
    if settings is None:  # pragma: no cover - a half-imported pulumi
        return False
    return settings.get_monitor() is not None
