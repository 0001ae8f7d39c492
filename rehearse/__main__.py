"""``python -m rehearse PROGRAM_DIR ENV --pipeline P --data-dir D --work-dir W [--report F]``.

One rehearsal (``glacier rehearse`` runs this in a child process). Prints progress as it goes,
then a table of the tasks; ``--report`` also writes the report as JSON. Exit 0 when the
execution succeeded, 1 when it did not, 2 when the rehearsal could not be set up.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m rehearse")
    parser.add_argument("program_dir")
    parser.add_argument("env")
    parser.add_argument("--pipeline", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--report", default=None)
    args = parser.parse_args(argv)
    from rehearse import RehearsalError, rehearse

    def say(line: str) -> None:
        print(line, flush=True)

    try:
        report = rehearse(
            args.program_dir, args.env, args.pipeline, args.data_dir, args.work_dir, say
        )
    except RehearsalError as error:
        print(f"glacier rehearse: {error}", file=sys.stderr, flush=True)
        return 2
    if report.tasks:
        say("")
        say(report.table())
    for dataset, where in report.copied:
        say(f"output {dataset}: {where}")
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr, flush=True)
    if report.status == "INFRASTRUCTURE ONLY":
        say(f"rehearsal of `{report.pipeline}` ({report.environment}): infrastructure deployed")
    elif report.ok:
        say(
            f"rehearsal of `{report.pipeline}` ({report.environment}) succeeded in {report.wall_s:.1f} s"
        )
    else:
        say(f"rehearsal of `{report.pipeline}` ({report.environment}): {report.status}")
        if report.error:
            say(f"  error: {report.error}")
        if report.cause:
            say(f"  cause: {report.cause}")
    if args.report:
        with open(args.report, "w", encoding="utf-8") as fh:
            json.dump(asdict(report), fh, sort_keys=True, indent=2, default=str)
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
