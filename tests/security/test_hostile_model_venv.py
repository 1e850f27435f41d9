"""lever installed into the workspace's own virtualenv (issue 14, item 4, second half).

A command may write anything in the workspace, including the venv lever runs from. Whatever it
plants there — a `.pth` file, an edited lever module, a replaced `bin/python` — must never run
in the Landlock launcher, which is unconfined until it has confined itself. The proof is a
marker file outside the workspace that only unconfined code can create.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from lever.sandbox import launcher_home
from tests.security.confined import unusable

DRIVER = """
import os, subprocess, sys
import lever
from lever.sandbox.base import SandboxPolicy
from lever.sandbox.factory import make_sandbox

ws = sys.argv[1]
assert lever.__file__.startswith(ws), lever.__file__  # lever really runs from the workspace
sandbox = make_sandbox(SandboxPolicy(mode="workspace-write"), "landlock")
env = {"PATH": os.environ["PATH"], "HOME": ws}
for command in sys.argv[2:]:
    argv = sandbox.wrap(["sh", "-c", command], ws, env)
    done = subprocess.run(argv, cwd=ws, env=env, capture_output=True, text=True)
    print(done.returncode, done.stdout.strip(), done.stderr.strip(), flush=True)
"""


STATUS = "import sys; from lever.cli.main import main; sys.exit(main(['sandbox', '--status']))"


def workspace_venv(ws: Path) -> Path:
    """ws/.venv with a copy of lever in its site-packages; returns that site-packages."""
    base = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    subprocess.run([base, "-m", "venv", "--without-pip", str(ws / ".venv")], check=True)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site = ws / ".venv" / "lib" / version / "site-packages"
    source = Path(launcher_home.package_parent()) / "lever"
    shutil.copytree(source, site / "lever", ignore=shutil.ignore_patterns("__pycache__"))
    # lever's own dependencies, for `lever sandbox --status` (a path line runs no code).
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return site


@pytest.fixture
def planted(tmp_path: Path) -> tuple[Path, Path, Path]:
    if unusable("landlock"):
        pytest.skip(f"landlock unavailable: {unusable('landlock')}")
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws, workspace_venv(ws), tmp_path / "marker"


def test_code_planted_in_the_workspace_venv_never_runs_unconfined(
    planted: tuple[Path, Path, Path],
) -> None:
    ws, site, marker = planted
    python = ws / ".venv" / "bin" / "python"
    real = os.path.realpath(python)
    pth = f"import os; open({str(marker)!r}, 'a').write('pth %d\\n' % os.getpid())"
    module = f"open({str(marker)!r}, 'a').write('module\\n')"
    fake_python = f'#!/bin/sh\necho bin >> {marker}\nexec {real} "$@"\n'
    attacks = [
        f"printf '%s\\n' {_q(pth)} > {site}/evil.pth",
        f"printf '\\n%s\\n' {_q(module)} >> {site}/lever/sandbox/reaper.py",
        f"rm {python} && printf '%s' {_q(fake_python)} > {python} && chmod +x {python}",
        f"touch {marker}",  # the confined command itself cannot either
        "true",  # the launcher starts again after all the planting
    ]
    done = subprocess.run(
        [str(python), "-c", DRIVER, str(ws), *attacks],
        cwd=ws,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert not marker.exists(), f"planted code ran unconfined: {marker.read_text()}"
    lines = done.stdout.splitlines()
    # The plants themselves worked (the workspace is writable), so the test proves something.
    assert [line.split()[0] for line in lines] == ["0", "0", "0", "1", "0"], done.stdout
    assert (
        "evil.pth" in os.listdir(site)
        and "module" in (site / "lever/sandbox/reaper.py").read_text()
    )
    assert not python.is_symlink()


def test_status_warns_when_lever_runs_from_a_writable_root(
    planted: tuple[Path, Path, Path],
) -> None:
    ws, _, _ = planted
    status = subprocess.run(
        [str(ws / ".venv" / "bin" / "python"), "-c", STATUS],
        cwd=ws,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "LEVER_HOME": str(ws.parent / "home")},
        check=False,
    )
    assert status.returncode == 0, status.stderr
    assert "warning: lever runs from" in status.stdout and "next time lever starts" in status.stdout


def test_no_warning_when_lever_is_outside_the_workspace(tmp_path: Path) -> None:
    assert launcher_home.exposure([str(tmp_path)]) == []
    argv = launcher_home.launcher_prefix("confine_exec", [str(tmp_path)])
    assert argv[1:3] == ["-I", "-S"] and argv[-1] == launcher_home.package_parent()


def test_lever_inside_a_root_is_imported_from_a_snapshot() -> None:
    parent = launcher_home.package_parent()
    code = launcher_home.code_dir([parent])
    assert code != parent and not launcher_home.inside(code, [parent])
    assert (Path(code) / "lever" / "sandbox" / "confine_exec.py").read_bytes() == (
        Path(parent) / "lever" / "sandbox" / "confine_exec.py"
    ).read_bytes()


def _q(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def test_startup_warning_only_when_lever_is_writable() -> None:
    parent = Path(launcher_home.package_parent())
    assert launcher_home.startup_warnings("workspace-write", (parent.parent,))
    assert launcher_home.startup_warnings("read-only", (parent.parent,)) == []
    assert launcher_home.startup_warnings("workspace-write", (Path("/nonexistent-ws"),)) == []
