"""Race-free file access beneath the writable roots, for what lever does on the model's behalf.

lever's own process is not sandboxed, and a command the model left running in the background can
change the workspace at any moment: swap a folder for a symlink to `~/.ssh` between the moment
lever checks a path and the moment it writes. So the kernel never resolves a model-controlled
path for lever. Each root is opened as a directory fd, and every component below it is opened
relative to its parent's fd with `O_NOFOLLOW`; folders are made with `mkdirat`, files written to
a temporary name then `renameat`-ed over the target, deleted with `unlinkat`. A symlink met on
such a walk is refused, whatever it points to: what lever checked is what it writes.

Symlinks that are there before lever starts (a repository's `docs -> site/docs`) still work where
they stay beneath the roots: `Beneath.locate` reads them with `readlinkat` and returns the
symlink-free path they stand for (the `openat2(RESOLVE_BENEATH)` rule, done portably), which the
strict walk then uses. If they change in between, the strict walk refuses.

Only regular files are read (a FIFO would block, a device could act on being opened). Hard links
need no rule: a file is replaced by a rename, never written in place, so the other names of its
inode keep their content.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from lever.sandbox.paths import PathOutsideRoots, inside_roots, real_roots

# O_PATH (Linux) opens a folder for *at calls without needing read permission on it.
_DIR_FLAGS = getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
#: As the kernel's own limit on symlinks in one lookup.
MAX_LINKS = 40


class UnsafePath(Exception):
    """A path lever will not use: a symlink appeared in it, or it is not a regular file."""


@dataclass(frozen=True)
class Located:
    """A path as a root and the symlink-free components below it."""

    root: Path
    parts: tuple[str, ...]

    @property
    def path(self) -> Path:
        return self.root.joinpath(*self.parts)

    @property
    def name(self) -> str:
        return self.parts[-1] if self.parts else "."

    def parent(self) -> Located:
        return Located(self.root, self.parts[:-1])


@dataclass(frozen=True)
class Saved:
    """What a path held before a change, to put it back: a symlink's target, or a file."""

    link: str | None = None
    data: bytes = b""
    mode: int = 0o644


class Beneath:
    """File operations confined to `roots` (real paths; the outermost holding a path is used)."""

    def __init__(self, roots: Iterable[Path]) -> None:
        self.roots = real_roots(roots)

    # -- resolving ----------------------------------------------------------------------------

    def locate(self, raw: str | Path, base: Path, *, follow_last: bool = True) -> Located:
        """The symlink-free location `raw` (relative to `base`) stands for.

        Raises PathOutsideRoots if it is, or a symlink on the way leads, outside the roots;
        NotADirectoryError if a component that must be a folder is a file. Components that do not
        exist yet are kept as named. With `follow_last=False` a final symlink is the result
        itself (to delete the link, or to refuse creating a file over it).
        """
        if "\0" in str(raw):
            raise UnsafePath(f"{raw!r} contains a NUL byte")
        root, target = inside_roots(raw, base, self.roots)
        for _ in range(MAX_LINKS):
            parts = target.relative_to(root).parts
            jump = self._first_link(root, parts, follow_last)
            if jump is None:
                return Located(root, parts)
            try:
                root, target = inside_roots(jump, root, self.roots)
            except PathOutsideRoots:
                raise PathOutsideRoots(f"{raw} leads outside the writable roots") from None
        raise UnsafePath(f"{raw}: too many levels of symbolic links")

    def _first_link(self, root: Path, parts: tuple[str, ...], follow_last: bool) -> Path | None:
        """Where the first symlink among `parts` points (normalised), or None if there is none."""
        fd = _open_root(root)
        try:
            for i, name in enumerate(parts):
                last = i == len(parts) - 1
                try:
                    info = os.stat(name, dir_fd=fd, follow_symlinks=False)
                except FileNotFoundError:
                    return None  # the rest will be created as named
                if stat.S_ISLNK(info.st_mode) and (follow_last or not last):
                    try:
                        link = os.readlink(name, dir_fd=fd)
                    except OSError as exc:  # EINVAL: no longer a link
                        raise _changed(root.joinpath(*parts[: i + 1])) from exc
                    here = root.joinpath(*parts[:i])
                    # `here` is symlink-free, so folding the link's `..` lexically is exact.
                    return Path(os.path.normpath(here / link / Path(*parts[i + 1 :])))
                if last:
                    return None
                if not stat.S_ISDIR(info.st_mode):
                    where = str(root.joinpath(*parts[: i + 1]))
                    raise NotADirectoryError(errno.ENOTDIR, "not a directory", where)
                nxt = _open_subdir(fd, name, root, parts[: i + 1])
                os.close(fd)
                fd = nxt
            return None
        finally:
            os.close(fd)

    # -- strict walks -------------------------------------------------------------------------

    def open_dir(self, loc: Located, *, created: list[Located] | None = None) -> int:
        """An fd of the folder `loc`, walked without following any link. With `created` given,
        missing folders are made (and appended to it); otherwise FileNotFoundError."""
        fd = _open_root(loc.root)
        try:
            for i, name in enumerate(loc.parts):
                if created is not None:
                    with suppress(FileExistsError):
                        os.mkdir(name, 0o777, dir_fd=fd)
                        created.append(Located(loc.root, loc.parts[: i + 1]))
                nxt = _open_subdir(fd, name, loc.root, loc.parts[: i + 1])
                os.close(fd)
                fd = nxt
        except BaseException:
            os.close(fd)
            raise
        return fd

    def lstat(self, loc: Located) -> os.stat_result | None:
        """What is at `loc` (a symlink itself, not its target), or None if nothing is."""
        try:
            dfd = self.open_dir(loc.parent())
        except (FileNotFoundError, NotADirectoryError):
            return None
        try:
            return os.stat(loc.name, dir_fd=dfd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        finally:
            os.close(dfd)

    def read_regular(self, loc: Located) -> tuple[bytes, int]:
        """The bytes and permission bits of the regular file at `loc`."""
        dfd = self.open_dir(loc.parent())
        try:
            _require_regular(os.stat(loc.name, dir_fd=dfd, follow_symlinks=False), loc)
            try:
                fd = os.open(loc.name, _READ_FLAGS, dir_fd=dfd)
            except OSError as exc:
                raise _link_error(exc, loc) from None
        finally:
            os.close(dfd)
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(f.fileno())
            _require_regular(info, loc)  # the object opened, whatever the name points to now
            return f.read(), stat.S_IMODE(info.st_mode)

    def write_atomic(
        self, loc: Located, data: bytes, mode: int | None, created: list[Located] | None = None
    ) -> None:
        """Replace `loc` with a file holding `data` (a new file gets 0666 less the umask)."""
        dfd = self.open_dir(loc.parent(), created=[] if created is None else created)
        try:
            tmp = f".{loc.name[:180]}.{secrets.token_hex(6)}.lever-tmp"
            fd = os.open(tmp, _TEMP_FLAGS, 0o666, dir_fd=dfd)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    if mode is not None:
                        os.fchmod(f.fileno(), mode)
                os.rename(tmp, loc.name, src_dir_fd=dfd, dst_dir_fd=dfd)
            except BaseException:
                with suppress(OSError):
                    os.unlink(tmp, dir_fd=dfd)
                raise
        finally:
            os.close(dfd)

    def unlink(self, loc: Located, *, missing_ok: bool = False) -> None:
        """Remove the file or symlink at `loc` (a link is removed, never its target)."""
        try:
            dfd = self.open_dir(loc.parent())
        except FileNotFoundError:
            if missing_ok:
                return
            raise
        try:
            os.unlink(loc.name, dir_fd=dfd)
        except FileNotFoundError:
            if not missing_ok:
                raise
        finally:
            os.close(dfd)

    def rmdir(self, loc: Located) -> None:
        dfd = self.open_dir(loc.parent())
        try:
            os.rmdir(loc.name, dir_fd=dfd)
        finally:
            os.close(dfd)

    # -- saving and restoring, for all-or-nothing writes ---------------------------------------

    def save(self, loc: Located) -> Saved | None:
        """What `loc` holds now (None: nothing), to put back with `restore`."""
        info = self.lstat(loc)
        if info is None:
            return None
        if stat.S_ISLNK(info.st_mode):
            dfd = self.open_dir(loc.parent())
            try:
                return Saved(link=os.readlink(loc.name, dir_fd=dfd))
            finally:
                os.close(dfd)
        data, mode = self.read_regular(loc)
        return Saved(data=data, mode=mode)

    def restore(self, loc: Located, saved: Saved | None) -> None:
        if saved is not None and saved.link is None:
            self.write_atomic(loc, saved.data, saved.mode)
            return
        self.unlink(loc, missing_ok=True)
        if saved is not None and saved.link is not None:
            dfd = self.open_dir(loc.parent())
            try:
                os.symlink(saved.link, loc.name, dir_fd=dfd)
            finally:
                os.close(dfd)


def _open_root(root: Path) -> int:
    # The root itself is opened by path: it is chosen by the person, and its parents are not
    # writable from the sandbox (roots are used outermost first).
    return os.open(root, getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY | os.O_CLOEXEC)


def _open_subdir(fd: int, name: str, root: Path, parts: tuple[str, ...]) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=fd)
    except OSError as exc:
        raise _link_error(exc, Located(root, parts), fd=fd, name=name) from None


def _link_error(
    exc: OSError, loc: Located, *, fd: int | None = None, name: str | None = None
) -> OSError | UnsafePath:
    """Name a refused symlink as such (O_NOFOLLOW says ELOOP, or ENOTDIR with O_DIRECTORY);
    other errors pass through."""
    if exc.errno not in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
        return exc
    if fd is None or name is None:
        return exc if exc.errno == errno.ENOTDIR else _changed(loc.path, now_link=True)
    try:
        mode = os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode
    except OSError:
        return _changed(loc.path)
    if stat.S_ISLNK(mode):
        return _changed(loc.path, now_link=True)
    if stat.S_ISDIR(mode):  # a link when opened, a folder again now
        return _changed(loc.path)
    return NotADirectoryError(errno.ENOTDIR, "not a directory", str(loc.path))


def _changed(path: Path, *, now_link: bool = False) -> UnsafePath:
    what = "is a symbolic link now" if now_link else "changed (a symbolic link came and went)"
    return UnsafePath(
        f"{path} {what} while lever was using it; lever does not read or write through links "
        "that could lead out of the workspace"
    )


_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


def _require_regular(info: os.stat_result, loc: Located) -> None:
    if stat.S_ISREG(info.st_mode):
        return
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory", str(loc.path))
    if stat.S_ISLNK(info.st_mode):
        raise _link_error(OSError(errno.ELOOP, "symlink"), loc)
    kind = _KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
    raise UnsafePath(f"{loc.path} is {kind}; lever reads and writes regular files only")


class OpenedDir:
    """A folder held open by fd, so a command can start in exactly it (`spawn_cwd`)."""

    def __init__(self, path: Path, fd: int) -> None:
        #: The real path when it was opened: for messages and approvals, never to chdir by.
        self.path = path
        self.fd = fd

    @property
    def spawn_cwd(self) -> str:
        """A `cwd` for a child process naming this very folder: on Linux the child's chdir goes
        through /proc/self/fd, a magic link to the open folder itself, not a path lookup. (On
        macOS, the path: a race there only changes where the command starts, since the sandbox's
        writable roots never come from it.)"""
        magic = f"/proc/self/fd/{self.fd}"
        return magic if os.path.isdir(magic) else str(self.path)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> OpenedDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_folder(raw: str | Path, base: Path, roots: Iterable[Path]) -> OpenedDir:
    """Open the folder `raw` (relative to `base`) beneath `roots`: symlinks that stay beneath
    them are followed once, then the folder is walked and opened without following any link.

    Raises PathOutsideRoots, FileNotFoundError, NotADirectoryError or UnsafePath.
    """
    fs = Beneath(roots)
    loc = fs.locate(raw, base)
    return OpenedDir(loc.path, fs.open_dir(loc))
