# Lamina: the two commands that matter are `make run` and `make test`.
.PHONY: run test lint typecheck pytest bench setup setup-test

# Start the server with its embedded store and the demo data (http://127.0.0.1:5667).
run:
	@scripts/setup.sh
	.venv/bin/lamina serve --demo

# The whole test suite: lint, types, and every test (browser tests included).
test: setup-test lint typecheck pytest

setup:
	@scripts/setup.sh

setup-test:
	@scripts/setup.sh --test

lint:
	.venv/bin/ruff check src tests bench
	.venv/bin/ruff format --check src tests bench
	.venv/bin/lint-imports --no-logo --no-cache

typecheck:
	.venv/bin/mypy

# In two processes, a test file's tests in one (docs/decisions.md says why).
pytest:
	.venv/bin/pytest -q -n 2 --dist loadfile --durations=20

# Benchmarks print their figures; they are not part of the test suite.
bench: setup
	.venv/bin/python -m bench
