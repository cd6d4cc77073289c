"""Benchmarks of tsargen (run as ``python -m benchmarks.<name>``)."""
