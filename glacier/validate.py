"""Validation rules for configuration values, shared by the runtime and the static path.

Each rule takes the values a constructor was given and returns the exception the constructor
raises for them, or ``None``: the runtime constructors raise it, ``glacier check`` reports it
(GLC402) for literal arguments, so a module that passes the check does not fail at import.
Stdlib only and cheap to import: ``glacier`` and ``glacier_aws`` import it eagerly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = [
    "account",
    "container",
    "environment_name",
    "existing",
    "existing_s3_bucket",
    "object_storage",
    "rds_name",
    "region",
    "s3_bucket",
    "serverless",
    "tags",
]

# Environment names become tag values, Pulumi resource names and build directories.
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,62}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")
# S3 general-purpose bucket naming rules (no dots: they break TLS virtual-host addressing).
_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
# What S3 itself accepts: dots too, never two in a row nor next to a hyphen.
_ANY_BUCKET = re.compile(r"(?!.*(\.\.|\.-|-\.))[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# RDS DB instance identifier: letter first, letters/digits/hyphens, no `--`, no trailing `-`.
_DB_IDENTIFIER = re.compile(r"[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}(?<!-)")


# -- glacier.storage / glacier.compute --------------------------------------------------------


def object_storage(bucket: object) -> ValueError | None:
    """``ObjectStorage(bucket=...)``: a non-empty string."""
    if not isinstance(bucket, str) or not bucket:
        return ValueError("ObjectStorage(bucket=...) must be a non-empty string")
    return None


def existing(value: object) -> TypeError | None:
    """``existing=`` of ``ObjectStorage`` and ``env.s3``: a bool (a string such as ``"no"``
    would be true)."""
    if not isinstance(value, bool):
        return TypeError(f"existing must be True or False, got {value!r}")
    return None


def serverless(memory_mb: object, timeout_s: object) -> Exception | None:
    """``Serverless(memory_mb, timeout_s)``: positive numbers."""
    return _positive("Serverless(memory_mb, timeout_s) must be positive", memory_mb, timeout_s)


def container(cpu: object, memory_mb: object) -> Exception | None:
    """``Container(cpu, memory_mb)``: positive numbers."""
    return _positive("Container(cpu, memory_mb) must be positive", memory_mb, cpu)


def _positive(message: str, *values: object) -> Exception | None:
    try:
        # the comparison itself is the type check: a str or None raises its own TypeError
        if any(value <= 0 for value in values):  # type: ignore[operator]
            return ValueError(message)
    except TypeError as error:
        return error
    return None


# -- glacier_aws.Environment ------------------------------------------------------------------


def account(value: object) -> Exception | None:
    """An AWS account id: a string of at most 12 digits (an int would drop leading zeros)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return TypeError(
            f"account must be a string of digits, got the int {value!r}: "
            "an int drops leading zeros of AWS account ids; write it in quotes"
        )
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        return ValueError(f"invalid account {value!r}: expected the AWS account id, digits")
    if len(value) > 12:
        return ValueError(f"invalid account {value!r}: AWS account ids have 12 digits")
    return None


def region(value: object) -> ValueError | None:
    """An AWS region name such as ``us-east-1``."""
    return _match(_REGION, value, "region", "an AWS region such as 'us-east-1'")


def environment_name(value: object) -> ValueError | None:
    """An environment name: it becomes tag values, resource names and build directories."""
    return _match(
        _NAME, value, "environment name", "a letter, then letters, digits, '-' or '_' (max 63)"
    )


def s3_bucket(value: object) -> ValueError | None:
    """The bucket of ``env.s3(bucket)``: S3 general-purpose bucket naming rules, no dots."""
    return _match(_BUCKET, value, "bucket", "3-63 lowercase letters, digits and hyphens")


def existing_s3_bucket(value: object) -> ValueError | None:
    """A bucket Glacier does not create: S3's own naming rules, dots allowed."""
    return _match(
        _ANY_BUCKET, value, "bucket", "3-63 lowercase letters, digits, hyphens and single dots"
    )


def rds_name(value: object) -> ValueError | None:
    """The identifier of ``env.rds(name)``: RDS DB instance identifier rules."""
    return _match(
        _DB_IDENTIFIER,
        value,
        "RDS name",
        "a letter, then up to 62 letters, digits or single hyphens, not ending in a hyphen",
    )


def tags(value: object) -> TypeError | None:
    """Resource tags: ``None`` or a mapping of non-empty str keys to str values."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        return TypeError(f"tags must be a mapping of str to str, got {value!r}")
    for key, item in value.items():
        if not isinstance(key, str) or not key or not isinstance(item, str):
            return TypeError(
                f"tags must map non-empty str keys to str values, got {key!r}: {item!r}"
            )
    return None


def _match(pattern: re.Pattern[str], value: object, what: str, rule: str) -> ValueError | None:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        return ValueError(f"invalid {what} {value!r}: expected {rule}")
    return None
