"""Fixtures of the app-server tests: a clean environment, a workspace, clients to clean up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lever.testing.isolated_env import isolated_env

from .rpc_client import RpcClient


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return isolated_env(tmp_path)


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
