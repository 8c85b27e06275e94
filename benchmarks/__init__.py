"""Benchmarks of aedetect: detection quality, training/scoring speed and service latency.

Each part is a module run as ``python -m benchmarks.<part>`` from the repository root; results go to
JSON under ``benchmarks/results/`` and, with ``--write-md``, to ``BENCHMARKS.md``.
"""
