"""Validation rules for configuration values, shared by the runtime and the static path.

Each rule takes the values a constructor was given and returns the exception the constructor
raises for them, or ``None``: the runtime constructors raise it, ``glacier check`` reports it
(GLC402) for literal arguments, so a module that passes the check does not fail at import.
Stdlib only and cheap to import: ``glacier`` and ``glacier_aws`` import it eagerly.

The limits AWS puts on a value the user writes are rules here too (Lambda's memory and
timeout, Fargate's CPU and memory pairs, EventBridge schedule expressions, S3 bucket names):
a value no deployment accepts is refused where it is written, on both paths. A rule over
several arguments (``serverless_argument``, ``container_argument``) also names the argument
to blame; an argument the static path cannot read is :data:`UNKNOWN`, and a rule skips what
depends on it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = [
    "FARGATE_MEMORY",
    "LAMBDA_MEMORY_MB",
    "LAMBDA_TIMEOUT_S",
    "LAMBDA_TMP_MB",
    "UNKNOWN",
    "account",
    "check_payloads",
    "container",
    "container_argument",
    "dataset_copy",
    "dotted_bucket",
    "environment_name",
    "existing",
    "existing_s3_bucket",
    "object_storage",
    "rds_name",
    "region",
    "retry_backoff",
    "retry_delay_s",
    "retry_on",
    "s3_bucket",
    "schedule",
    "serverless",
    "serverless_argument",
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
_IP_ADDRESS = re.compile(r"\d{1,3}(\.\d{1,3}){3}")
# Prefixes and suffixes S3 reserves for its own names (access points, Object Lambda, MRAPs,
# directory buckets): a general-purpose bucket cannot use them.
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")

LAMBDA_MEMORY_MB = (128, 10240)
"""AWS Lambda's memory range, in MB (1 MB steps)."""
LAMBDA_TIMEOUT_S = (1, 900)
"""AWS Lambda's timeout range, in seconds (15 minutes at most)."""
LAMBDA_TMP_MB = (512, 10240)
"""AWS Lambda's ``/tmp`` (ephemeral storage) range, in MB."""


def _steps(low: int, high: int, step: int) -> tuple[int, ...]:
    return tuple(range(low, high + 1, step))


FARGATE_MEMORY: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: _steps(1024, 4096, 1024),
    1024: _steps(2048, 8192, 1024),
    2048: _steps(4096, 16384, 1024),
    4096: _steps(8192, 30720, 1024),
    8192: _steps(16384, 61440, 4096),
    16384: _steps(32768, 122880, 8192),
}
"""The memory sizes (MB) ECS Fargate accepts for each task CPU size (CPU units)."""


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: object = _Unknown()
"""An argument whose value the static path cannot read: rules skip what depends on it."""


# -- Pipeline / pipeline.task ----------------------------------------------------------------------------


def dataset_copy(value: object) -> TypeError | None:
    """``copy=`` of ``Dataset``: a bool."""
    if not isinstance(value, bool):
        return TypeError(f"copy must be True or False, got {value!r}")
    return None


def check_payloads(value: object) -> TypeError | None:
    """``check_payloads=`` of ``Pipeline``: a bool."""
    if not isinstance(value, bool):
        return TypeError(f"check_payloads must be True or False, got {value!r}")
    return None


def retry_delay_s(value: object) -> ValueError | None:
    """``retry_delay_s=`` of ``pipeline.task``: a non-negative number of seconds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        return ValueError(f"retry_delay_s must be a non-negative number of seconds, got {value!r}")
    return None


def retry_backoff(value: object) -> ValueError | None:
    """``backoff=`` of ``pipeline.task``: a number of at least 1 (each delay times it)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 1:
        return ValueError(f"backoff must be a number of at least 1, got {value!r}")
    return None


def retry_on(value: object) -> TypeError | None:
    """``retry_on=`` of ``pipeline.task``: ``None`` (every exception) or a tuple of exception
    classes (an exception class alone is accepted as a tuple of one)."""
    if value is None or _exception_class(value):
        return None
    if isinstance(value, tuple) and value and all(_exception_class(v) for v in value):
        return None
    return TypeError(
        f"retry_on must be an exception class or a tuple of exception classes, got {value!r}"
    )


def _exception_class(value: object) -> bool:
    return isinstance(value, type) and issubclass(value, Exception)


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


def serverless(memory_mb: object, timeout_s: object, tmp_mb: object = None) -> Exception | None:
    """``Serverless(memory_mb, timeout_s, tmp_mb)``: what AWS Lambda accepts."""
    found = serverless_argument(memory_mb, timeout_s, tmp_mb)
    return found[1] if found is not None else None


def serverless_argument(
    memory_mb: object, timeout_s: object, tmp_mb: object = None
) -> tuple[str, Exception] | None:
    """The argument of ``Serverless(...)`` to blame and its exception, or ``None``.

    ``memory_mb``: an int of 128..10,240 MB; ``timeout_s``: an int of 1..900 seconds (Lambda
    takes whole seconds, 15 minutes at most); ``tmp_mb``: ``None`` or an int of 512..10,240 MB.
    """
    error = _int_in("Serverless", "memory_mb", memory_mb, LAMBDA_MEMORY_MB, "MB (AWS Lambda)")
    if error is not None:
        return "memory_mb", error
    error = _int_in(
        "Serverless", "timeout_s", timeout_s, LAMBDA_TIMEOUT_S, "seconds (AWS Lambda, 15 minutes)"
    )
    if error is not None:
        return "timeout_s", error
    if tmp_mb is not None:
        error = _int_in("Serverless", "tmp_mb", tmp_mb, LAMBDA_TMP_MB, "MB (AWS Lambda's /tmp)")
        if error is not None:
            return "tmp_mb", error
    return None


def container(cpu: object, memory_mb: object) -> Exception | None:
    """``Container(cpu, memory_mb)``: a CPU and memory pair ECS Fargate accepts."""
    found = container_argument(cpu, memory_mb)
    return found[1] if found is not None else None


def container_argument(cpu: object, memory_mb: object) -> tuple[str, Exception] | None:
    """The argument of ``Container(...)`` to blame and its exception, or ``None``.

    ``cpu`` is one of Fargate's sizes (256 to 16,384 CPU units) and ``memory_mb`` one of the
    sizes Fargate pairs with it (``Container(cpu=256, memory_mb=4096)`` is refused by ECS).
    A wrong pair blames ``memory_mb``.
    """
    error = _fargate_cpu(cpu)
    if error is not None:
        return "cpu", error
    if memory_mb is UNKNOWN:
        return None
    error = _int_type("Container", "memory_mb", memory_mb)
    if error is not None:
        return "memory_mb", error
    if cpu is UNKNOWN:
        if not any(memory_mb in sizes for sizes in FARGATE_MEMORY.values()):
            return "memory_mb", ValueError(
                f"Container(memory_mb=...) must be a memory size ECS Fargate accepts "
                f"(512 to 122880 MB), got {memory_mb!r}"
            )
        return None
    assert isinstance(cpu, int)
    pairs = FARGATE_MEMORY[cpu]
    if memory_mb not in pairs:
        return "memory_mb", ValueError(
            f"Container(memory_mb={memory_mb!r}) does not fit cpu={cpu}: ECS Fargate accepts "
            f"{_sizes_text(pairs)} MB with {cpu} CPU units"
        )
    return None


def _fargate_cpu(cpu: object) -> Exception | None:
    if cpu is UNKNOWN:
        return None
    error = _int_type("Container", "cpu", cpu)
    if error is not None or cpu in FARGATE_MEMORY:
        return error
    sizes = ", ".join(str(size) for size in FARGATE_MEMORY)
    return ValueError(
        f"Container(cpu=...) must be one of {sizes} CPU units (ECS Fargate), got {cpu!r}"
    )


def _sizes_text(sizes: tuple[int, ...]) -> str:
    if len(sizes) <= 3:
        return ", ".join(str(size) for size in sizes)
    return f"{sizes[0]} to {sizes[-1]} in steps of {sizes[1] - sizes[0]}"


def _int_type(call: str, argument: str, value: object) -> TypeError | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return TypeError(f"{call}({argument}=...) must be an int, got {value!r}")
    return None


def _int_in(
    call: str, argument: str, value: object, bounds: tuple[int, int], unit: str
) -> Exception | None:
    if value is UNKNOWN:
        return None
    error = _int_type(call, argument, value)
    if error is not None:
        return error
    low, high = bounds
    assert isinstance(value, int)
    if not low <= value <= high:
        return ValueError(f"{call}({argument}=...) must be {low}..{high} {unit}, got {value!r}")
    return None


# -- glacier.Pipeline -------------------------------------------------------------------------

_RATE = re.compile(r"rate\((?P<value>[^\s()]+) (?P<unit>[a-z]+)\)")
_RATE_UNITS = ("minute", "hour", "day")
_CRON = re.compile(r"cron\((?P<fields>[^()]*)\)")
_CRON_FIELD = re.compile(r"[0-9A-Za-z*?,/\-#LW]+")
_CRON_FIELDS = ("minutes", "hours", "day-of-month", "month", "day-of-week", "year")


def schedule(value: object) -> Exception | None:
    """``Pipeline(schedule=...)``: ``None`` or an EventBridge schedule expression.

    ``rate(N unit)``: N a positive int, the unit ``minute``/``hour``/``day`` for 1 and
    ``minutes``/``hours``/``days`` otherwise; ``cron(...)``: six fields (minutes, hours,
    day-of-month, month, day-of-week, year), exactly one of day-of-month and day-of-week
    ``?``.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        return TypeError(f"schedule must be a string such as 'rate(1 day)', got {value!r}")
    rate = _RATE.fullmatch(value.strip())
    if rate is not None:
        return _rate(value, rate["value"], rate["unit"])
    cron = _CRON.fullmatch(value.strip())
    if cron is not None:
        return _cron(value, cron["fields"].split(" "))
    return ValueError(
        f"invalid schedule {value!r}: expected 'rate(<number> <unit>)' or 'cron(<six fields>)'"
    )


def _rate(text: str, number: str, unit: str) -> ValueError | None:
    if not number.isascii() or not number.isdigit() or int(number) <= 0:
        return ValueError(f"invalid schedule {text!r}: the rate must be a whole number above 0")
    singular = unit.removesuffix("s")
    if singular not in _RATE_UNITS:
        return ValueError(
            f"invalid schedule {text!r}: the unit must be minute(s), hour(s) or day(s)"
        )
    wanted = singular if int(number) == 1 else f"{singular}s"
    if unit != wanted:
        return ValueError(
            f"invalid schedule {text!r}: write 'rate({int(number)} {wanted})' "
            "(EventBridge wants the singular for 1, the plural otherwise)"
        )
    return None


def _cron(text: str, fields: list[str]) -> ValueError | None:
    if len(fields) != len(_CRON_FIELDS) or not all(_CRON_FIELD.fullmatch(f) for f in fields):
        return ValueError(
            f"invalid schedule {text!r}: cron takes six fields separated by single spaces: "
            f"{' '.join(_CRON_FIELDS)}"
        )
    day_of_month, day_of_week = fields[2], fields[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        return ValueError(
            f"invalid schedule {text!r}: exactly one of day-of-month and day-of-week must be "
            "'?' (EventBridge cannot take both)"
        )
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
    return _match(
        _BUCKET, value, "bucket", "3-63 lowercase letters, digits and hyphens"
    ) or _reserved_bucket(value)


def existing_s3_bucket(value: object) -> ValueError | None:
    """A bucket Glacier does not create: S3's own naming rules, dots allowed."""
    error = _match(
        _ANY_BUCKET, value, "bucket", "3-63 lowercase letters, digits, hyphens and single dots"
    )
    if error is None and isinstance(value, str) and _IP_ADDRESS.fullmatch(value):
        return ValueError(f"invalid bucket {value!r}: S3 bucket names cannot be IP addresses")
    return error or _reserved_bucket(value)


def dotted_bucket(value: object) -> bool:
    """A bucket name S3 accepts with dots, which HTTPS virtual-hosted addressing and Transfer
    Acceleration cannot serve: ``glacier check`` warns (GLC403); the runtime accepts it."""
    return isinstance(value, str) and "." in value and existing_s3_bucket(value) is None


def _reserved_bucket(value: object) -> ValueError | None:
    assert isinstance(value, str)  # a name that passed its pattern
    for prefix in _RESERVED_PREFIXES:
        if value.startswith(prefix):
            return ValueError(f"invalid bucket {value!r}: S3 reserves the prefix {prefix!r}")
    for suffix in _RESERVED_SUFFIXES:
        if value.endswith(suffix):
            return ValueError(f"invalid bucket {value!r}: S3 reserves the suffix {suffix!r}")
    return None


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
