"""pass@k, pass^k, bootstrap intervals, a paired significance test, failure classes.

Per task, n attempts of which c passed:

- pass@k = 1 - C(n-c, k) / C(n, k): the chance that at least one of k attempts drawn without
  replacement from the n passes (the unbiased estimator of Chen et al. 2021).
- pass^k = C(c, k) / C(n, k): the chance that all k drawn attempts pass (reliability).

A suite's value is the mean over its tasks; its interval is a percentile bootstrap over tasks
(resampling tasks with replacement, seeded so a report is reproducible). A bootstrap over few
tasks that all scored the same collapses to a point (0/15 attempts gives [0 %, 0 %]), so pass@1
also gets a Wilson score interval over the attempts, which treats them as independent.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from math import comb, sqrt

#: Why an attempt failed, in the order a report lists them.
FAILURE_CLASSES = (
    "grade_failed",
    "timeout",
    "agent_error",
    "model_api_error",
    "sandbox_denial",
    "setup_error",
)
BOOTSTRAP_SAMPLES = 2000
DEFAULT_SEED = 0


def _check(n: int, c: int, k: int) -> None:
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got n={n}, k={k}")


def pass_at_k(n: int, c: int, k: int) -> float:
    """1 - C(n-c, k) / C(n, k), computed exactly with integers before the one division."""
    _check(n, c, k)
    return 1.0 - comb(n - c, k) / comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float:
    """C(c, k) / C(n, k): every one of k attempts drawn from the n passes."""
    _check(n, c, k)
    return comb(c, k) / comb(n, k)


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def bootstrap_interval(
    values: Sequence[float],
    *,
    seed: int = DEFAULT_SEED,
    samples: int = BOOTSTRAP_SAMPLES,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of `values` (one value per task)."""
    if not values:
        return (0.0, 0.0)
    rng = random.Random(seed)
    size = len(values)
    means = sorted(sum(rng.choices(values, k=size)) / size for _ in range(samples))
    tail = (1.0 - level) / 2
    low = means[int(tail * (samples - 1))]
    high = means[int((1.0 - tail) * (samples - 1) + 0.5)]
    return (low, high)


def wilson_interval(passed: int, attempts: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval (95 % by default) of a success rate of `passed` in `attempts`:
    never a single point, and sensible at 0 and at `attempts` (unlike the normal approximation)."""
    if attempts <= 0:
        return (0.0, 1.0)
    rate = passed / attempts
    spread = z * sqrt(rate * (1 - rate) / attempts + z * z / (4 * attempts * attempts))
    centre, scale = rate + z * z / (2 * attempts), 1 + z * z / attempts
    low = 0.0 if passed == 0 else max(0.0, (centre - spread) / scale)
    high = 1.0 if passed == attempts else min(1.0, (centre + spread) / scale)
    return (low, high)


def suite_curve(
    counts: Sequence[tuple[int, int]], metric: str, *, seed: int = DEFAULT_SEED
) -> list[tuple[int, float, float, float]]:
    """(k, mean over tasks, low, high) for k = 1 .. the smallest n; metric "pass@k" or "pass^k"."""
    if not counts:
        return []
    function = pass_at_k if metric == "pass@k" else pass_hat_k
    curve = []
    for k in range(1, min(n for n, _ in counts) + 1):
        values = [function(n, c, k) for n, c in counts]
        low, high = bootstrap_interval(values, seed=seed)
        curve.append((k, mean(values), low, high))
    return curve


def paired_test(
    a: Sequence[float], b: Sequence[float], *, seed: int = DEFAULT_SEED, samples: int = 10000
) -> tuple[float, float, float, float]:
    """Compare two runs on the same tasks (per-task values in the same order).

    Returns (mean difference b - a, bootstrap low, high, two-sided p-value). The p-value is a
    paired sign-flip permutation test: under "no difference" each task's difference is as likely
    to have either sign, so flip signs at random and count how often the mean is as extreme.
    """
    if len(a) != len(b):
        raise ValueError("paired_test needs the same tasks in both runs")
    diffs = [y - x for x, y in zip(a, b, strict=True)]
    if not diffs:
        return (0.0, 0.0, 0.0, 1.0)
    observed = mean(diffs)
    low, high = bootstrap_interval(diffs, seed=seed)
    rng = random.Random(seed)
    extreme = 0
    for _ in range(samples):
        flipped = sum(d if rng.random() < 0.5 else -d for d in diffs) / len(diffs)
        if abs(flipped) >= abs(observed) - 1e-12:
            extreme += 1
    # +1 on both sides: the observed labelling is one of the permutations (never p = 0).
    return (observed, low, high, (extreme + 1) / (samples + 1))
