"""Layer 2: explicit environments. Storage declared per AWS account and region.

Run it locally:  python examples/layer2_environments.py
Outside a Pulumi program `Environment.s3()` returns a plain description, so locally each bucket
is a directory under the data directory (`.glacier/data/<bucket>/...`). Inside the generated
Pulumi program (`glacier build`) the same calls create tagged, encrypted, private S3 buckets.
"""

from __future__ import annotations

from glacier import Dataset, Pipeline
from glacier_aws import Environment
from glacier_local import LocalExecutor

pipeline = Pipeline(name="sales", description="Daily sales totals per region.")

aws_prod = Environment(account="123456789012", region="us-east-1", name="prod")
aws_dev = Environment(account="789012345678", region="us-west-2", name="dev", tags={"team": "data"})

prod_bucket = aws_prod.s3(bucket="prod-data")
dev_bucket = aws_dev.s3(bucket="dev-data")

sales = Dataset[list[dict[str, float]]](name="sales", storage=prod_bucket)
totals = Dataset[dict[str, float]](name="totals", storage=prod_bucket)

REGIONS = ("north", "south", "east", "west")


def transform(rows: list[dict[str, float]]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for row in rows:
        region = REGIONS[int(row["region"])]
        totals[region] = round(totals.get(region, 0.0) + row["amount"], 2)
    return dict(sorted(totals.items()))


@pipeline.task()
def collect() -> sales:
    # twelve sales, spread over the four regions
    return [{"region": float(i % 4), "amount": 10.0 + 2.5 * i} for i in range(12)]


@pipeline.task(retries=1)
def summarise(rows: sales) -> totals:
    return transform(rows)


if __name__ == "__main__":
    result = LocalExecutor().execute(pipeline)
    print(result.summary())
    print(result.outputs["totals"] if result.ok else "run failed")
    raise SystemExit(0 if result.ok else 1)
