"""Every dataset of the orders pipeline, with its payload type and storage."""

from typing import Any

from glacier import Database, Dataset, ObjectStorage

# The source: orders land here as JSON, written by the shop's export job, which owns the
# bucket: a deployment looks it up (`existing=True`) and never creates or deletes it.
raw_orders = Dataset[list[dict[str, Any]]](
    name="raw_orders",
    storage=ObjectStorage(bucket="orders-landing", prefix="incoming", format="json", existing=True),
)

valid_orders = Dataset[list[dict[str, Any]]](name="valid_orders")
rejected_orders = Dataset[list[dict[str, Any]]](name="rejected_orders")

daily_revenue = Dataset[dict[str, float]](name="daily_revenue")
customer_ranking = Dataset[list[dict[str, Any]]](name="customer_ranking")

reports = ObjectStorage(bucket="orders-reports", prefix="daily")
report = Dataset[str](name="report", storage=reports)

rejections = Dataset[list[dict[str, Any]]](name="rejections", storage=Database(table="rejections"))
