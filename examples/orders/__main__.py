"""`python -m orders`: run the orders pipeline locally (from the `examples/` directory)."""

from glacier_local import LocalExecutor
from orders import pipeline

result = LocalExecutor().execute(pipeline)
print(result.summary())
raise SystemExit(0 if result.ok else 1)
