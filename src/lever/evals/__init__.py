"""Evaluation: outcome-graded task suites with pass@k and pass^k (DESIGN §8, docs/evals.md)."""
