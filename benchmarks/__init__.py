"""Benchmarks: ``python -m benchmarks`` prints the tables of benchmarks/RESULTS.md."""
