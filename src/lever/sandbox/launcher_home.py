"""Where the sandbox launchers' Python and lever code come from (issue 14, item 4).

The Landlock launcher (confine_exec) runs *unconfined* until it has confined itself, so
whatever it executes or imports before that must be out of the commands' reach. Three ways a
command could otherwise get code run there, when lever is installed inside the workspace or a
writable root (a project's `.venv`, an editable install of lever's own repository):

- a `.pth` file (or `sitecustomize`) written into site-packages runs at every interpreter start
  with `site` enabled: the launcher runs with `-I -S` (isolated, no `site`), so none runs;
- the venv's `bin/python` replaced by a script: the launcher runs the real interpreter (the
  base one of a venv) resolved outside every writable root;
- lever's own modules edited: when lever's package lies inside a writable root, the launcher
  imports a snapshot of `lever/sandbox/` copied, before the first command ran, into a private
  folder outside them.

lever's own process is another matter: started again from such a venv, it runs the `.pth`
before any sandbox exists. `lever sandbox --status` says so (`exposure`), and docs/security.md
lists it as a gap.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from functools import cache

#: Runs `main` of the launcher module from the code folder given as the first argument. The
#: folder goes last on sys.path: the standard library always wins over anything in it.
BOOT = (
    "import sys; sys.path.append(sys.argv[1]); "
    "from lever.sandbox.{module} import main; sys.exit(main(sys.argv[2:]))"
)


def inside(path: str, roots: Sequence[str]) -> bool:
    real = os.path.realpath(path)
    for root in roots:
        top = os.path.realpath(root)
        if real == top or real.startswith(top.rstrip("/") + "/"):
            return True
    return False


def package_parent() -> str:
    """The folder holding the `lever` package this process imported."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))


def _interpreters() -> list[str]:
    # A venv's base interpreter first: the venv's bin/python is a link a command could replace.
    found = [getattr(sys, "_base_executable", ""), sys.executable]
    return [os.path.realpath(p) for p in found if p and os.path.isfile(p)]


def interpreter(roots: Sequence[str]) -> str:
    """A Python to run the launcher with: outside every writable root when there is one."""
    candidates = _interpreters()
    for candidate in candidates:
        if not inside(candidate, roots):
            return candidate
    return candidates[0] if candidates else sys.executable


@cache
def _snapshot(base: str) -> str:
    """A private copy of lever/__init__.py and lever/sandbox/*.py under `base`."""
    top = tempfile.mkdtemp(prefix="lever-launcher-", dir=base)
    atexit.register(shutil.rmtree, top, True)
    source = os.path.join(package_parent(), "lever")
    target = os.path.join(top, "lever", "sandbox")
    os.makedirs(target)
    shutil.copyfile(os.path.join(source, "__init__.py"), os.path.join(top, "lever", "__init__.py"))
    for name in os.listdir(os.path.join(source, "sandbox")):
        if name.endswith(".py"):
            shutil.copyfile(os.path.join(source, "sandbox", name), os.path.join(target, name))
    return top


def code_dir(roots: Sequence[str]) -> str:
    """Where the launcher imports lever from: the package itself, or a snapshot out of reach."""
    parent = package_parent()
    if not inside(parent, roots):
        return parent
    for base in (tempfile.gettempdir(), "/tmp", "/var/tmp"):
        if os.path.isdir(base) and not inside(base, roots):
            return _snapshot(os.path.realpath(base))
    return parent  # every temp place is writable: `exposure` says so


def launcher_prefix(module: str, roots: Sequence[str]) -> list[str]:
    """The argv that runs `lever.sandbox.<module>` for commands that may write `roots`."""
    code = BOOT.format(module=module)
    return [interpreter(roots), "-I", "-S", "-c", code, code_dir(roots)]


@cache
def own_sites() -> tuple[str, ...]:
    """The site-packages folders of the environment lever runs from: a `.pth` file or a
    `sitecustomize` written there runs, unconfined, the next time lever starts."""
    import sysconfig

    paths = sysconfig.get_paths(vars={"base": sys.prefix, "platbase": sys.prefix})
    found: list[str] = []
    for key in ("purelib", "platlib"):
        real = os.path.realpath(paths[key])
        if os.path.isdir(real) and real not in found:
            found.append(real)
    return tuple(found)


def own_sites_inside(roots: Sequence[str]) -> list[str]:
    """`own_sites` that lie inside one of `roots` (and so must be protected from commands)."""
    return [site for site in own_sites() if inside(site, roots)]


def exposure(roots: Sequence[str]) -> list[str]:
    """Sentences for each of lever's own files that commands writing `roots` could change."""
    notes = []
    if inside(sys.prefix, roots) or inside(package_parent(), roots):
        notes.append(
            f"lever runs from {sys.prefix}, inside a writable root: a command can plant code "
            "(a .pth file, an edited module) that runs unconfined the next time lever starts; "
            "install lever outside the workspace (e.g. `uv tool install`, pipx)"
        )
    if all(inside(candidate, roots) for candidate in _interpreters()):
        notes.append(
            f"lever's Python ({sys.executable}) lies inside a writable root: a command could "
            "replace the interpreter the sandbox launcher runs"
        )
    return notes


def startup_warnings(mode: str, writable_roots: Sequence[object]) -> list[str]:
    """`exposure` for a session's sandbox policy (nothing is writable in read-only mode)."""
    if mode != "workspace-write":
        return []
    return exposure([str(root) for root in writable_roots])
