"""Analytics: revenue per day and a customer ranking (a fan-out), joined into a report (fan-in)."""

from collections import defaultdict
from typing import Any

from glacier import Container
from orders.datasets import customer_ranking, daily_revenue, report, valid_orders
from orders.pipeline import pipeline


@pipeline.task()
def revenue_by_day(orders: valid_orders) -> daily_revenue:
    revenue: dict[str, float] = defaultdict(float)
    for order in orders:
        revenue[order["day"]] += float(order["amount"])
    return {day: round(total, 2) for day, total in sorted(revenue.items())}


@pipeline.task(compute=Container(cpu=512, memory_mb=1024))
def rank_customers(orders: valid_orders) -> customer_ranking:
    spent: dict[str, float] = defaultdict(float)
    for order in orders:
        spent[order["customer"]] += float(order["amount"])
    ranking = sorted(spent.items(), key=lambda item: (-item[1], item[0]))
    return [{"customer": name, "spent": round(total, 2)} for name, total in ranking[:3]]


@pipeline.task(timeout=120)
def write_report(revenue: daily_revenue, ranking: customer_ranking) -> report:
    lines = ["# Orders report", "", "## Revenue per day"]
    lines += [f"- {day}: {total:.2f}" for day, total in revenue.items()]
    lines += ["", "## Top customers"]
    lines += [f"{i}. {row['customer']} ({row['spent']:.2f})" for i, row in enumerate(ranking, 1)]
    return "\n".join(lines) + "\n"


def summary(ranking: list[dict[str, Any]]) -> str:
    return ", ".join(row["customer"] for row in ranking)
