# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# Both create .venv when it is missing and install the project with its `dev` extra.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
GLACIER := $(VENV)/bin/glacier
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# What a user's CI does: check the DAGs without running them, generate the artifacts,
# then run every pipeline locally, in-process and through its standalone runner.
demo: $(STAMP)
	@echo "== glacier check examples/   (static: nothing is imported)"
	$(GLACIER) check examples/
	@echo "== glacier build examples/"
	$(GLACIER) build examples/
	rm -rf .glacier/data && mkdir -p .glacier/data && cp -R examples/data/. .glacier/data/
	@echo "== in-process runs with LocalExecutor"
	$(PY) examples/layer1_local.py
	$(PY) examples/layer2_environments.py
	PYTHONPATH=examples $(PY) -m orders
	@echo "== standalone runners (python -I -S: no glacier, no site-packages)"
	for runner in build/*/run_local.py; do $(PY) -I -S $$runner || exit 1; done

# The whole suite, and the examples type-checked by mypy with Glacier's plugin.
test: $(STAMP)
	$(PY) -m mypy --strict examples/
	$(PY) -m pytest -n 2 -q

bench: $(STAMP)
	$(PY) benchmarks/executor_overhead.py
	$(PY) benchmarks/analyzer_check.py
	$(PY) benchmarks/stdlib_check.py
	$(PY) benchmarks/rehearse.py
	$(PY) benchmarks/scale.py
	$(PY) benchmarks/incremental.py

clean:
	rm -rf build .glacier .pytest_cache .mypy_cache
