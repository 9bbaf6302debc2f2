"""Benchmarks: they print figures; they are not tests. See `python -m bench.ingest --help`."""
