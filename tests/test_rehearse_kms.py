"""The SSE-KMS pipeline (`tests/fixtures/deploy/kms_bucket.py`) deploys and runs on the emulator.

The rehearsal enforces what S3 asks KMS for on a task's behalf (``kms:Decrypt`` to read,
``kms:GenerateDataKey`` to write an object of an ``aws:kms`` bucket) against the task's own
role: without the statements of ``dataset_statements`` for the bucket's key, the writing task
is denied. moto does not evaluate the ``kms:ViaService`` condition; the program tests assert it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "deploy" / "kms_bucket.py"

pytestmark = pytest.mark.slow


def test_the_kms_pipeline_reads_and_writes_its_encrypted_bucket(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "kms-vault").mkdir(parents=True)
    (data / "kms-vault" / "readings.json").write_text("[1.0, 2.0, 4.0]")
    report = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-m", "glacier_cli", "rehearse", str(FIXTURE), "--env", "prod"]
        + ["--data-dir", str(data), "--report", str(report)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(report.read_text())
    assert result["status"] == "SUCCEEDED"
    assert {t["name"]: t["status"] for t in result["tasks"].values()} == {
        "normalise": "ok",
        "summarise": "ok",
    }
    summary = json.loads((data / "kms-vault" / "summary.json").read_text())
    assert summary == {"count": 3.0, "mean": pytest.approx((0.25 + 0.5 + 1.0) / 3)}
