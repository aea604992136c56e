"""Evaluation: time-respecting splits, statistics and metrics."""
