"""Benchmarks, one module per workload, run as ``causalppl bench NAME``.

Each writes a Markdown results file (default ``benchmarks/results/NAME.md``) that records
the command that produced it, the machine, and ratios measured side by side in one run.
"""
