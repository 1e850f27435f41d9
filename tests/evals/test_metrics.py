"""The estimators against direct enumeration, and their order as a property."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lever.evals import metrics
from lever.evals.metrics import pass_at_k, pass_hat_k


def enumerate_subsets(n: int, c: int, k: int) -> tuple[Fraction, Fraction]:
    """(P(some of k drawn attempts pass), P(all pass)) by listing every k-subset of n."""
    attempts = [i < c for i in range(n)]
    subsets = list(itertools.combinations(attempts, k))
    some = sum(any(s) for s in subsets)
    every = sum(all(s) for s in subsets)
    return Fraction(some, len(subsets)), Fraction(every, len(subsets))


@pytest.mark.parametrize(
    ("n", "c", "k"),
    [(n, c, k) for n in range(1, 8) for c in range(n + 1) for k in range(1, n + 1)],
)
def test_estimators_match_enumeration(n: int, c: int, k: int) -> None:
    some, every = enumerate_subsets(n, c, k)
    assert pass_at_k(n, c, k) == pytest.approx(float(some), abs=1e-12)
    assert pass_hat_k(n, c, k) == pytest.approx(float(every), abs=1e-12)


def test_edge_cases() -> None:
    for n in (1, 5, 10):
        for k in range(1, n + 1):
            assert pass_at_k(n, 0, k) == 0.0 and pass_hat_k(n, 0, k) == 0.0  # c = 0
            assert pass_at_k(n, n, k) == 1.0 and pass_hat_k(n, n, k) == 1.0  # c = n
    # k = n: pass@n is "any attempt passed", pass^n is "every attempt passed".
    assert pass_at_k(5, 1, 5) == 1.0 and pass_hat_k(5, 4, 5) == 0.0
    assert pass_at_k(4, 1, 1) == 0.25 and pass_hat_k(4, 3, 2) == 0.5


@pytest.mark.parametrize(("n", "c", "k"), [(3, 4, 1), (3, -1, 1), (3, 1, 0), (3, 1, 4)])
def test_out_of_range_is_an_error(n: int, c: int, k: int) -> None:
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)
    with pytest.raises(ValueError):
        pass_hat_k(n, c, k)


@st.composite
def counts(draw: st.DrawFn) -> tuple[int, int, int]:
    n = draw(st.integers(1, 60))
    return n, draw(st.integers(0, n)), draw(st.integers(1, n))


@settings(deadline=None)
@given(counts())
def test_reliability_below_success_below_any(nck: tuple[int, int, int]) -> None:
    n, c, k = nck
    eps = 1e-12
    assert pass_hat_k(n, c, k) <= pass_at_k(n, c, 1) + eps <= pass_at_k(n, c, k) + 2 * eps
    assert pass_at_k(n, c, 1) == pytest.approx(c / n)


@settings(deadline=None, max_examples=60)  # each example bootstraps: slow on a loaded machine
@given(st.lists(st.tuples(st.integers(1, 10), st.integers(0, 10)), min_size=1, max_size=8))
def test_suite_curves_keep_the_order(raw: list[tuple[int, int]]) -> None:
    task_counts = [(n, min(c, n)) for n, c in raw]
    at = metrics.suite_curve(task_counts, "pass@k")
    hat = metrics.suite_curve(task_counts, "pass^k")
    for (_k, a, a_low, a_high), (_, h, _, _) in zip(at, hat, strict=True):
        assert h <= at[0][1] + 1e-12 <= a + 2e-12
        assert a_low - 1e-12 <= a <= a_high + 1e-12
    assert [p[0] for p in at] == list(range(1, min(n for n, _ in task_counts) + 1))


def test_bootstrap_is_seeded_and_brackets_the_mean() -> None:
    values = [0.0, 1.0, 1.0, 0.5, 0.25, 1.0, 0.0, 0.75]
    first = metrics.bootstrap_interval(values, seed=7)
    assert first == metrics.bootstrap_interval(values, seed=7)
    low, high = first
    assert low < metrics.mean(values) < high
    assert metrics.bootstrap_interval([0.5] * 5) == (0.5, 0.5)


def test_paired_test_tells_a_real_difference_from_noise() -> None:
    a = [0.0] * 20
    diff, low, high, p = metrics.paired_test(a, [1.0] * 20)
    assert diff == 1.0 and low == high == 1.0 and p < 0.001
    noisy_a = [0.0, 1.0] * 10
    noisy_b = [1.0, 0.0] * 10
    diff, low, high, p = metrics.paired_test(noisy_a, noisy_b)
    assert diff == 0.0 and low < 0 < high and p > 0.5
    assert metrics.paired_test(a, a, seed=3) == metrics.paired_test(a, a, seed=3)


def test_wilson_interval_is_never_a_point() -> None:
    # 0 of 15: the bootstrap over tasks says [0, 0]; the attempts still allow up to ~20 %.
    low, high = metrics.wilson_interval(0, 15)
    assert low == 0.0 and 0.20 < high < 0.21
    low, high = metrics.wilson_interval(15, 15)
    assert 0.79 < low < 0.80 and high == 1.0
    low, high = metrics.wilson_interval(5, 10)  # symmetric around one half
    assert abs((low + high) / 2 - 0.5) < 1e-9 and 0.23 < low < 0.24
    assert metrics.wilson_interval(0, 0) == (0.0, 1.0)


@given(st.integers(1, 200).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n))))
def test_wilson_interval_brackets_the_rate(nc: tuple[int, int]) -> None:
    n, c = nc
    low, high = metrics.wilson_interval(c, n)
    assert 0.0 <= low <= c / n <= high <= 1.0 and high - low > 0
