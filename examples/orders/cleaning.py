"""Validation: split the raw orders into valid and rejected ones, and keep the rejections."""

from typing import Any

from glacier import Serverless
from orders import datasets
from orders.datasets import rejected_orders, rejections, valid_orders
from orders.pipeline import pipeline

REQUIRED = ("order_id", "customer", "day", "amount")


def problem(order: dict[str, Any]) -> str | None:
    """Why an order is invalid, or None."""
    missing = [key for key in REQUIRED if order.get(key) in (None, "")]
    if missing:
        return "missing " + ", ".join(missing)
    if not isinstance(order["amount"], (int, float)) or order["amount"] <= 0:
        return "amount must be a positive number"
    return None


@pipeline.task(retries=2, compute=Serverless(memory_mb=256, timeout_s=60))
def validate(
    orders: datasets.raw_orders,
) -> tuple[valid_orders, rejected_orders]:
    valid: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    for order in orders:
        reason = problem(order)
        if reason is None:
            valid.append(order)
        else:
            rejected.append({"order_id": str(order.get("order_id")), "reason": reason})
    return valid, rejected


@pipeline.task()
def archive_rejections(rejected: rejected_orders) -> rejections:
    return sorted(rejected, key=lambda r: r["order_id"])
