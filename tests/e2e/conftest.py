"""End-to-end helpers: run the installed `lever` command as a user would."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lever.testing.isolated_env import isolated_env, lever_bin, run_lever

__all__ = ["lever_bin", "run_lever"]

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def lever_home(tmp_path: Path) -> Path:
    home = tmp_path / "lever-home"
    home.mkdir()
    return home


@pytest.fixture
def clean_env(lever_home: Path) -> dict[str, str]:
    """The environment of a machine with no model configured: no provider keys at all."""
    return isolated_env(lever_home.parent)


@pytest.fixture
def math_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "mathrepo"
    shutil.copytree(FIXTURES / "mathrepo", repo)
    return repo
