"""Fixtures of the app-server tests: a clean environment, a workspace, clients to clean up."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .rpc_client import RpcClient


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "lever-home"
    home.mkdir()
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith("_API_KEY") and not k.startswith("LEVER_")
    }
    return {**clean, "LEVER_HOME": str(home)}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    return work


@pytest.fixture
def clients() -> Iterator[list[RpcClient]]:
    started: list[RpcClient] = []
    yield started
    for client in started:
        client.kill()
