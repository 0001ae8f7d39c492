"""``glacier build --package``: vendor the bundle's third-party packages for AWS Lambda.

Lambda runs the bundle directory as it is: whatever the task code imports beyond the
standard library and boto3 must be inside it, built for Lambda's platform (Amazon Linux 2023,
glibc 2.34, x86_64, the function's Python), not for the machine running the build. As Chalice
does, pip is asked for binary wheels of exactly that platform (``--platform
manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --python-version 3.12
--only-binary=:all:``: pip takes the best wheel of either tag; recent releases such as pandas
3 publish only ``manylinux_2_28``) and installs them into the bundle (``--target``). A package
without such a wheel fails the packaging with pip's message, rather than deploying something
that cannot import.

Then the bundle is measured (``glacier_aws.archive``): its unzipped bytes against
Lambda's 250 MB quota (``GLC305`` refuses it), and its archive against the 50 MB of a direct
upload (above it, the program's ``LambdaBundle`` uploads through S3).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from glacier_aws.archive import BundleSize, measure_bundle

__all__ = [
    "LAMBDA_PLATFORMS",
    "LAMBDA_PYTHON",
    "PackageResult",
    "missing_requirements",
    "package_bundle",
    "requirements",
]

LAMBDA_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux2014_x86_64")
"""Wheel tags the Lambda runtime (Amazon Linux 2023, glibc 2.34, x86_64) can load, newest first."""
LAMBDA_PYTHON = "3.12"
"""The runtime ``glacier_aws.deploy.LambdaTask`` deploys (``python3.12``)."""


@dataclass(frozen=True, slots=True)
class PackageResult:
    bundle: str
    requirements: tuple[str, ...]
    command: tuple[str, ...]
    """The pip command run (empty when there was nothing to install)."""
    size: BundleSize
    """The bundle's size once packaged."""


def requirements(bundle: str) -> list[str]:
    """The requirement lines of ``bundle/requirements.txt`` (comments dropped)."""
    path = os.path.join(bundle, "requirements.txt")
    found = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            text = line.split("#", 1)[0].strip()
            if text:
                found.append(text)
    return found


def missing_requirements(bundle: str) -> list[str]:
    """The distributions ``bundle/requirements.txt`` names that were not installed into the
    bundle (no ``<name>-<version>.dist-info`` there; names compared normalised)."""
    if not os.path.isfile(os.path.join(bundle, "requirements.txt")):
        return []
    vendored = {
        entry.split("-", 1)[0].lower().replace(".", "_")
        for entry in os.listdir(bundle)
        if entry.endswith(".dist-info")
    }
    missing = []
    for line in requirements(bundle):
        # `psycopg[binary]==3.3` names the distribution `psycopg`
        name = re.split(r"[\[<>=!~;\s]", line, maxsplit=1)[0]
        if name.lower().replace("-", "_").replace(".", "_") not in vendored:
            missing.append(name)
    return missing


def package_bundle(
    bundle: str,
    *,
    platforms: Sequence[str] = LAMBDA_PLATFORMS,
    python_version: str = LAMBDA_PYTHON,
    index_options: Sequence[str] = (),
) -> PackageResult:
    """Install the bundle's requirements into it, as wheels for Lambda's platform.

    ``index_options`` are passed to pip (``--no-index``, ``--find-links DIR``, ``--index-url``).
    Raises ``subprocess.CalledProcessError`` (with pip's output) when pip fails.
    """
    wanted = requirements(bundle)
    if not wanted:
        return PackageResult(bundle, (), (), measure_bundle(bundle))
    command = (
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--upgrade",
        "--target",
        bundle,
        *(arg for platform in platforms for arg in ("--platform", platform)),
        "--python-version",
        python_version,
        "--implementation",
        "cp",
        "--only-binary=:all:",
        *index_options,
        *wanted,
    )
    subprocess.run(command, check=True, capture_output=True, text=True, timeout=1800)
    return PackageResult(bundle, tuple(wanted), command, measure_bundle(bundle))
