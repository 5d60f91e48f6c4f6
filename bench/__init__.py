"""Benchmarks and evaluations (not part of the installed package)."""
