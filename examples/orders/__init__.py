"""Orders: a realistic multi-module pipeline package.

- `pipeline.py` declares the pipeline, `datasets.py` every dataset;
- `cleaning.py` and `analytics.py` hold the tasks (importing this package registers them);
- the source `raw_orders` is read from object storage, `rejections` is written to a database.

Run it locally:  python -m orders   (from `examples/`; seed the data first, see README)
"""

from orders import analytics as analytics
from orders import cleaning as cleaning
from orders.pipeline import pipeline as pipeline

__all__ = ["analytics", "cleaning", "pipeline"]
