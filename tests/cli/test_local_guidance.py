"""`--provider local` with nothing pulled: the one command to run, or (`--yes`) the pull itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lever.local import NotPulled
from lever.local import pull as pull_module
from lever.local.manage import LocalOptions, pull_missing, resolve_gguf
from lever.local.models import MODELS


@pytest.fixture
def bare_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No model pulled, no llama-server anywhere lever looks."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.setattr("lever.local.server._installed_binary", lambda: None)
    return tmp_path / "home"


def test_nothing_pulled_names_the_one_command(bare_machine: Path) -> None:
    with pytest.raises(NotPulled) as info:
        resolve_gguf(LocalOptions(model="1.5b"), bare_machine)
    message = str(info.value)
    assert "`lever local pull 1.5b --server`" in message and "--yes" in message
    assert info.value.name == "1.5b"


def test_yes_pulls_the_missing_model_and_server(
    bare_machine: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pulled: list[Any] = []
    monkeypatch.setattr(pull_module, "pull", lambda model, home=None: pulled.append(model.name))
    monkeypatch.setattr(pull_module, "pull_server", lambda home=None: pulled.append("server"))
    pull_missing(LocalOptions(model="0.5b"), bare_machine)
    assert pulled == [MODELS["0.5b"].name, "server"]


def test_yes_leaves_a_named_binary_alone(
    bare_machine: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pulled: list[Any] = []
    monkeypatch.setattr(pull_module, "pull", lambda model, home=None: pulled.append(model.name))
    monkeypatch.setattr(pull_module, "pull_server", lambda home=None: pulled.append("server"))
    gguf = tmp_path / "mine.gguf"
    gguf.write_bytes(b"GGUF")
    pull_missing(LocalOptions(gguf=str(gguf), server_bin="/opt/llama-server"), bare_machine)
    assert pulled == []
