"""Fixtures for every test package."""

from __future__ import annotations

from pathlib import Path

import pytest

from lever.testing.realistic_home import RealisticHome, build_realistic_home


@pytest.fixture
def realistic_home(tmp_path: Path) -> RealisticHome:
    """A HOME like a Python developer's: slow (0.3 s in `.bashrc`, 0.3 s more in the profile),
    noisy on stderr, pyenv-like shims first on PATH, an alias and a function
    (lever.testing.realistic_home)."""
    return build_realistic_home(tmp_path / "home")
