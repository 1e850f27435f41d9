"""Credential files and session sockets that sandboxed commands cannot read.

The sandbox lets commands read the whole file system (they need compilers, libraries, the
person's tool configuration), but not the places where credentials live: `~/.ssh`, `~/.aws`,
`~/.netrc`, `~/.config/gh`, `~/.git-credentials`, `~/.docker/config.json`, `~/.gnupg`,
`~/.kube`, `~/.pypirc`, `~/.config/gcloud`, browser profiles…, lever's own home (its config,
sessions and index), and `$XDG_RUNTIME_DIR` (agent sockets, keyring and session files).

How each mechanism hides them:

- bubblewrap: a fresh tmpfs over each hidden folder, /dev/null bound over each hidden file
  (`bwrap_args`). Sockets of the person's session (tmux, ssh-agent, X11, docker, dbus) are
  hidden the same way, so `connect()` finds nothing.
- Landlock: read access is granted path by path (`read_rules`): everything that is not hidden,
  nothing under what is. Folders above a hidden path may still be listed (their entries'
  names show), their hidden entries cannot be opened. Landlock does not govern `connect()` on
  unix sockets: the seccomp filter refuses AF_UNIX sockets instead (see seccomp.py).

`[sandbox] allow_read = ["~/.aws"]` lets one through when a task needs it. The session's own
artifacts folder (full outputs of truncated commands, under lever's home) stays readable, so
the model can read back what was cut (`SandboxPolicy.session_files`). A hidden path that
holds the workspace (or another writable root) is not hidden: the person chose to work there.

Only `os` is imported: the Landlock launcher imports this before every command.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterable, Mapping, Sequence

#: Under $HOME: credentials, tokens, keys, browser profiles (cookies), password stores.
HOME_CREDENTIALS = (
    ".ssh",
    ".aws",
    ".azure",
    ".netrc",
    ".git-credentials",
    ".config/git/credentials",
    ".config/gh",
    ".config/hub",
    ".config/glab-cli",
    ".config/gcloud",
    ".config/op",
    ".docker/config.json",
    ".gnupg",
    ".kube",
    ".pypirc",
    ".npmrc",
    ".cargo/credentials",
    ".cargo/credentials.toml",
    ".gem/credentials",
    ".pgpass",
    ".my.cnf",
    ".vault-token",
    ".terraform.d/credentials.tfrc.json",
    ".password-store",
    ".local/share/keyrings",
    ".mozilla",
    ".config/google-chrome",
    ".config/chromium",
    ".config/BraveSoftware",
    ".lever",
)

#: What the sandbox's own launchers run from (Python, lever): a hidden place holding one of
#: them (a lever installed under ~/.lever) stays visible, or no command could start.
RUNTIME = (sys.prefix, sys.base_prefix, os.path.dirname(os.path.dirname(__file__)))

#: Sockets of the person's session (bubblewrap hides them; see the module doc for Landlock).
SOCKET_PLACES = ("/run/user", "/run/dbus", "/run/docker.sock", "/run/containerd", "/run/podman")
#: Prefixes of socket folders in /tmp: tmux, ssh-agent, X11/ICE, screen.
TMP_SOCKET_PREFIXES = ("tmux-", "ssh-", ".X11-unix", ".ICE-unix", "screens", ".s.PGSQL")

#: Kinds of read rule (Landlock rights are chosen by landlock.py): a whole folder, one file,
#: or a folder that may only be listed.
READ_ALL = "read"
READ_FILE = "file"
READ_DIR_ONLY = "list"


def _expand(path: str, home: str) -> str:
    if path == "~" or path.startswith("~/"):
        return home + path[1:]
    return path if os.path.isabs(path) else os.path.join(home, path)


def _contains(outer: str, inner: str) -> bool:
    return inner == outer or inner.startswith(outer.rstrip("/") + "/")


def credential_paths(environ: Mapping[str, str]) -> list[str]:
    """The credential places of this user that exist, resolved (symlinks followed)."""
    home = environ.get("HOME") or os.path.expanduser("~")
    places = [os.path.join(home, name) for name in HOME_CREDENTIALS]
    for name in ("LEVER_HOME", "XDG_RUNTIME_DIR", "GNUPGHOME", "AWS_SHARED_CREDENTIALS_FILE"):
        if environ.get(name):
            places.append(environ[name])
    if environ.get("XDG_CONFIG_HOME"):
        places += [os.path.join(environ["XDG_CONFIG_HOME"], n) for n in ("gh", "gcloud", "op")]
    return _existing(places)


def socket_paths(environ: Mapping[str, str]) -> list[str]:
    """Unix sockets (and their folders) of the person's session that exist."""
    places = list(SOCKET_PLACES)
    for folder in ("/tmp", environ.get("TMUX_TMPDIR") or "/tmp"):
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        places += [os.path.join(folder, n) for n in names if n.startswith(TMP_SOCKET_PREFIXES)]
    for name in ("SSH_AUTH_SOCK", "TMUX"):
        value = environ.get(name, "").split(",")[0]
        if value.startswith("/"):
            places.append(os.path.dirname(value) if name == "TMUX" else value)
    docker = environ.get("DOCKER_HOST", "")
    if docker.startswith("unix://"):
        places.append(docker.removeprefix("unix://"))
    return _existing(places)


def _existing(places: Iterable[str]) -> list[str]:
    found: list[str] = []
    for place in places:
        if os.path.lexists(place):
            real = os.path.realpath(place)
            if real not in found and real != "/":
                found.append(real)
    return found


def hidden_paths(
    environ: Mapping[str, str],
    keep_visible: Sequence[str | os.PathLike[str]],
    allow_read: Sequence[str] = (),
    *,
    sockets: bool = False,
) -> list[str]:
    """What to hide: credential places (and session sockets with `sockets`), minus those the
    person allowed and those holding something that must stay visible (cwd, writable roots)."""
    home = environ.get("HOME") or os.path.expanduser("~")
    allowed = [os.path.realpath(_expand(path, home)) for path in allow_read]
    visible = [os.path.realpath(path) for path in keep_visible]
    places = credential_paths(environ) + (socket_paths(environ) if sockets else [])
    return [
        place
        for place in places
        if not any(_contains(place, keep) for keep in visible)
        and not any(_contains(ok, place) or _contains(place, ok) for ok in allowed)
    ]


def bwrap_args(hidden: Iterable[str], visible: Iterable[str] = ()) -> list[str]:
    """bubblewrap arguments covering each hidden path: tmpfs on folders, /dev/null on files;
    then the `visible` paths inside them bound back, read-only."""
    args: list[str] = []
    paths = list(hidden)
    for path in sorted(paths, key=len):
        if any(other != path and _contains(other, path) for other in paths):
            continue  # already under a tmpfs: its mount point would not exist there
        try:
            mode = os.stat(path).st_mode
        except OSError:
            continue
        args += ["--tmpfs", path] if stat.S_ISDIR(mode) else ["--ro-bind", "/dev/null", path]
    for keep in visible:
        if os.path.exists(keep) and any(_contains(place, keep) for place in paths):
            args += ["--ro-bind", keep, keep]
    return args


def read_rules(
    hidden: Sequence[str], root: str = "/", visible: Sequence[str] = ()
) -> list[tuple[str, str]]:
    """(path, READ_ALL | READ_FILE | READ_DIR_ONLY) pairs granting reads on everything but
    `hidden`, except the `visible` paths inside hidden places (the session's own artifacts).

    A folder above a hidden (or visible) path gets READ_DIR_ONLY (it can be listed) and each of
    its entries is visited; any other entry gets READ_ALL on its whole subtree. Symlinked
    entries need no rule: Landlock checks the file a path resolves to, under that file's own
    folders.
    """
    whole = [(root, READ_ALL if os.path.isdir(root) else READ_FILE)]
    if any(_contains(place, root) for place in hidden):
        if any(_contains(keep, root) for keep in visible):
            return whole
        if not any(_contains(root, keep) for keep in visible):
            return []
    elif not any(_contains(root, place) for place in hidden):
        return whole
    rules = [(root, READ_DIR_ONLY)]
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return rules
    for name in names:
        entry = os.path.join(root, name)
        if not os.path.islink(entry):
            rules += read_rules(hidden, entry, visible)
    return rules
