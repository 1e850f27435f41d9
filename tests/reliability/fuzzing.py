"""What the fuzz tests share: one bounded, repeatable settings profile, and text made of
likely pieces (structure, escapes) mixed with random ones."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

#: Bounded and repeatable in CI: the same 150 examples per target on every run (derandomized,
#: no example database), a few seconds each.
FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def pieces(
    likely: Sequence[str], *, noise: int, most: int, sep: str = ""
) -> st.SearchStrategy[str]:
    """Up to `most` pieces joined by `sep`, each one of `likely` (what makes the input
    well-formed, or nearly) or a random text of up to `noise` characters."""
    return st.lists(st.sampled_from(likely) | st.text(max_size=noise), max_size=most).map(sep.join)
