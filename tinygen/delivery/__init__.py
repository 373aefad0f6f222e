"""Delivery: a run's diff into a working tree, a branch, a push or a pull request.

Click-free; front ends call it through :mod:`tinygen.pipeline` and word its results.
"""
