"""The orders pipeline object; tasks register on it from `cleaning` and `analytics`."""

from glacier import Pipeline

pipeline = Pipeline(
    name="orders",
    schedule="rate(1 day)",
    description="Validate the day's orders, then report revenue and the best customers.",
)
