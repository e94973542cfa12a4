"""Benchmarks that run methods side by side: the paper's Fig. 3 and Table I, the planner sweep.

Orchestration only (held-out instances, seeds, timing, tables and figures); the methods
themselves live in :mod:`twin`, :mod:`agents` and :mod:`diffusion`.
"""
