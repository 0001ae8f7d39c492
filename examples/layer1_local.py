"""Layer 1: implicit. A pipeline, two datasets, two tasks, run locally.

Run it:  python examples/layer1_local.py
Nothing is configured: both datasets are ephemeral and the run happens in this process.
"""

from __future__ import annotations

import math
from typing import Any

from glacier import Dataset, Pipeline
from glacier_local import LocalExecutor

pipeline = Pipeline(name="etl", description="Hourly temperature readings, cleaned.")

raw = Dataset(name="raw")
# ephemeral on purpose: a local run hands it back in `RunResult.outputs`
clean = Dataset[list[dict[str, float]]](name="clean")  # glacier: ignore[GLC501]


def fetch_data() -> list[dict[str, Any]]:
    """A day of hourly readings from a sensor; two of them are faulty (None)."""
    readings: list[dict[str, Any]] = []
    for hour in range(24):
        celsius = round(12.0 + 6.0 * math.sin((hour - 9) * math.pi / 12), 2)
        readings.append({"hour": hour, "celsius": None if hour in (3, 17) else celsius})
    return readings


def process(readings: list[dict[str, Any]]) -> list[dict[str, float]]:
    """Drop faulty readings and add Fahrenheit."""
    return [
        {
            "hour": float(r["hour"]),
            "celsius": r["celsius"],
            "fahrenheit": round(r["celsius"] * 9 / 5 + 32, 2),
        }
        for r in readings
        if r["celsius"] is not None
    ]


@pipeline.task()
def extract() -> raw:
    return fetch_data()


@pipeline.task()
def transform(data: raw) -> clean:
    return process(data)


if __name__ == "__main__":
    result = LocalExecutor().execute(pipeline)
    print(result.summary())
    print(f"{len(result.outputs['clean'])} clean readings" if result.ok else "run failed")
    raise SystemExit(0 if result.ok else 1)
