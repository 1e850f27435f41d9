"""The Landlock launcher's metadata supervisor (notify.py): what must keep working inside the
workspace, what stays refused in `.git` / `.lever`, and the rules it decides by. The escapes
themselves (outside files by path, fd, dirfd, symlink) are in escape_cases_fs.py."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from lever.sandbox.notify import Rules
from lever.sandbox.protected import metadata_protected
from tests.sandbox.escape_world import PY, World
from tests.security.confined import sandbox_for


@pytest.mark.parametrize(
    ("rel", "protected"),
    [
        ("src/main.py", False),
        (".git", True),
        (".git/config", True),
        (".git/hooks/pre-commit", True),
        (".git/objects/ab/cdef", False),
        (".git/index.lock", False),
        (".git/modules/sub/hooks/post-checkout", True),
        ("sub/.git/refs/heads/main", False),
        (".lever", True),
        (".lever/config.toml", True),
        ("a/.lever/b", True),
        ("gitx/.gitignore", False),
    ],
)
def test_metadata_protected_parts(rel: str, protected: bool) -> None:
    assert metadata_protected(rel) is protected


def test_rules_allow_only_inside_roots_and_outside_protected(tmp_path: Path) -> None:
    root, venv = tmp_path / "ws", tmp_path / "ws" / ".venv"
    rules = Rules([str(root)], [str(venv)])
    assert rules.allows(str(root)) and rules.allows(str(root / "a" / "b"))
    assert not rules.allows(str(tmp_path / "wsx")) and not rules.allows(str(tmp_path))
    assert not rules.allows(str(root / ".git" / "config"))
    assert not rules.allows(str(venv)) and not rules.allows(str(venv / "lib" / "x.pth"))


@pytest.fixture
def world() -> object:
    w = World.create()
    yield w
    w.close()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_metadata_changes_inside_the_workspace_still_work(world: World) -> None:
    sandbox = sandbox_for("landlock")
    (world.ws / "run.sh").write_text("#!/bin/sh\n")
    (world.ws / "dir").mkdir()
    uid, gid = os.getuid(), os.getgid()
    script = (
        "import os\n"
        "os.chmod('run.sh', 0o755)\n"
        "fd = os.open('README.md', os.O_RDONLY); os.chmod(fd, 0o600); os.utime(fd, (1e9, 1e9))\n"
        "d = os.open('dir', os.O_RDONLY); os.chmod('.', 0o700, dir_fd=d)\n"
        f"os.chown('run.sh', {uid}, {gid}); os.chown('dir', -1, -1)\n"
        "os.utime('src/main.py', ns=(10**18, 2 * 10**18))\n"
        "os.symlink('run.sh', 'link'); os.utime('link', (5, 5), follow_symlinks=False)\n"
        "for n in os.listdir('/proc/self/fd'):\n"
        "    try: print(os.readlink(f'/proc/self/fd/{n}'))\n"
        "    except OSError: pass\n"
    )
    result = world.run(sandbox, [PY, "-c", script])
    assert result.returncode == 0, result
    assert mode(world.ws / "run.sh") == 0o755 and mode(world.ws / "README.md") == 0o600
    assert mode(world.ws / "dir") == 0o700
    assert int((world.ws / "README.md").stat().st_mtime) == 1_000_000_000
    assert (world.ws / "src" / "main.py").stat().st_mtime_ns == 2 * 10**18
    assert os.lstat(world.ws / "link").st_mtime == 5
    # The seccomp listener stays with the supervisor: a command holding it could answer itself.
    assert "seccomp" not in result.stdout


def test_xattrs_inside_the_workspace_still_work(world: World) -> None:
    sandbox = sandbox_for("landlock")
    try:
        os.setxattr(world.ws / "README.md", "user.probe", b"1")
    except OSError:
        pytest.skip("no user xattrs on this file system")
    code = (
        "import os; os.setxattr('src/main.py', 'user.k', b'v'); "
        "os.removexattr('README.md', 'user.probe')"
    )
    result = world.run(sandbox, [PY, "-c", code])
    assert result.returncode == 0, result
    assert os.getxattr(world.ws / "src" / "main.py", "user.k") == b"v"
    assert "user.probe" not in os.listxattr(world.ws / "README.md")


def test_git_data_is_changeable_but_git_config_and_lever_are_not(world: World) -> None:
    sandbox = sandbox_for("landlock")
    obj = world.ws / ".git" / "objects" / "x"
    obj.write_text("data")
    (world.ws / ".lever").mkdir(exist_ok=True)
    lever_cfg = world.ws / ".lever" / "config.toml"
    lever_cfg.write_text("")
    before = mode(world.ws / ".git" / "config"), mode(lever_cfg)
    ok = world.run(sandbox, ["chmod", "0444", str(obj)])
    assert ok.returncode == 0 and mode(obj) == 0o444, ok
    refused = world.run(sandbox, ["chmod", "0777", ".git/config", ".lever/config.toml"])
    assert refused.returncode != 0 and "not permitted" in refused.stderr
    assert (mode(world.ws / ".git" / "config"), mode(lever_cfg)) == before


def test_commands_see_only_their_own_processes(world: World) -> None:
    sandbox = sandbox_for("landlock")
    from lever.sandbox import probe

    if not probe.pid_namespace_works():
        pytest.skip("no user/PID namespace here: the documented gap")
    result = world.run(sandbox, ["sh", "-c", "echo $$; ls /proc | grep -c '^[0-9]'"])
    pid, count = result.stdout.split()
    assert pid == "2"  # PID 1 is the launcher's reaper
    assert int(count) < 10


def test_metadata_of_a_hidden_place_inside_the_workspace_is_refused(world: World) -> None:
    # lever started in $HOME: ~/.ssh lies inside the writable root, hidden from reads; a chmod
    # there must not make the key readable by the machine's other users.
    sandbox = sandbox_for("landlock")
    key = world.ws / ".ssh" / "id_rsa"
    key.parent.mkdir()
    key.write_text("secret\n")
    key.chmod(0o600)
    world.set_host_env(HOME=str(world.ws))
    result = world.run(sandbox, ["chmod", "0644", str(key)])
    assert result.returncode != 0 and mode(key) == 0o600, result
