"""`fs_beneath`, the fd walks lever reads and writes the workspace with, case by case.

The races themselves are in test_race_patch.py and test_race_workdir.py; here each position a
symlink can take is set up deterministically, including "after lever located the path and before
it wrote" (what a background command does), and what must hold is that nothing outside changes.
"""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from lever.sandbox.fs_beneath import Beneath, Located, UnsafePath, open_folder
from lever.sandbox.paths import PathOutsideRoots, confine
from lever.testing.tree import snapshot
from lever.tools.patch_apply import PatchApplyError, commit, plan_patch
from lever.tools.patch_parser import parse_patch


@pytest.fixture
def world(tmp_path: Path) -> tuple[Path, Path]:
    ws, outside = tmp_path / "ws", tmp_path / "outside"
    (ws / "a" / "b").mkdir(parents=True)
    (ws / "a" / "b" / "f.txt").write_text("inside\n")
    outside.mkdir()
    (outside / "f.txt").write_text("the person's file\n")
    (outside / "b").mkdir()
    return ws, outside


@pytest.mark.parametrize(
    ("link", "raw"),
    [
        ("a", "a/b/f.txt"),  # the first folder
        ("a/b", "a/b/f.txt"),  # a folder in the middle
        ("a/b/f.txt", "a/b/f.txt"),  # the file itself
        ("a/b/new", "a/b/new/x.txt"),  # a folder that the write would create
    ],
)
def test_a_link_out_at_any_position_is_refused(
    world: tuple[Path, Path], link: str, raw: str
) -> None:
    ws, outside = world
    target = ws / link
    if target.is_dir():
        target.rename(target.with_name(target.name + ".real"))
    elif target.exists():
        target.unlink()
    target.symlink_to(outside if link != "a/b/f.txt" else outside / "f.txt")
    fs = Beneath([ws])
    with pytest.raises(PathOutsideRoots):
        fs.locate(raw, ws)
    with pytest.raises(PathOutsideRoots):
        confine(raw, ws, [ws])


@pytest.mark.parametrize("raw", ["../outside/f.txt", "a/../../outside/f.txt", "/etc/passwd"])
def test_dotdot_and_absolute_paths_outside_are_refused_lexically(
    world: tuple[Path, Path], raw: str
) -> None:
    ws, _ = world
    with pytest.raises(PathOutsideRoots):
        Beneath([ws]).locate(raw, ws)


def test_inside_paths_dotdot_inside_and_links_inside_resolve_to_the_real_file(
    world: tuple[Path, Path],
) -> None:
    ws, _ = world
    fs = Beneath([ws])
    real = Located(ws, ("a", "b", "f.txt"))
    assert fs.locate("a/b/f.txt", ws) == real
    assert fs.locate(ws / "a" / "b" / "f.txt", ws) == real
    assert fs.locate("a/x/../b/f.txt", ws) == real  # folded lexically: `x` is never looked at
    (ws / "docs").symlink_to("a/b")  # relative link inside
    (ws / "alias.txt").symlink_to(ws / "a" / "b" / "f.txt")  # absolute link inside
    assert fs.locate("docs/f.txt", ws) == real
    assert fs.locate("alias.txt", ws) == real
    assert fs.locate("alias.txt", ws, follow_last=False) == Located(ws, ("alias.txt",))
    assert fs.locate("docs/new/x.txt", ws) == Located(ws, ("a", "b", "new", "x.txt"))


def test_link_loops_and_nul_bytes_are_refused(world: tuple[Path, Path]) -> None:
    ws, _ = world
    (ws / "loop1").symlink_to("loop2")
    (ws / "loop2").symlink_to("loop1")
    fs = Beneath([ws])
    with pytest.raises(UnsafePath, match="too many levels"):
        fs.locate("loop1/x", ws)
    with pytest.raises(UnsafePath, match="NUL"):
        fs.locate("a\0b", ws)


def test_a_folder_swapped_after_locating_is_never_written_through(
    world: tuple[Path, Path],
) -> None:
    """The race, made deterministic: located while real, swapped, then used."""
    ws, outside = world
    fs = Beneath([ws])
    file, new = fs.locate("a/b/f.txt", ws), fs.locate("a/b/new.txt", ws)
    folder = fs.locate("a/b", ws)
    before = snapshot(outside)
    (ws / "a" / "b").rename(ws / "a" / "b.real")
    (ws / "a" / "b").symlink_to(outside)
    attempts = [
        lambda: fs.write_atomic(new, b"pwned\n", None),
        lambda: fs.write_atomic(file, b"pwned\n", 0o644),
        lambda: fs.read_regular(file),
        lambda: fs.unlink(file),
        lambda: fs.open_dir(folder),
        lambda: fs.save(file),
        lambda: fs.write_atomic(Located(ws, ("a", "b", "c", "d.txt")), b"x", None, []),
    ]
    for attempt in attempts:
        with pytest.raises(UnsafePath, match="symbolic link"):
            attempt()
    assert snapshot(outside) == before


def test_a_file_swapped_for_a_link_is_replaced_not_followed(world: tuple[Path, Path]) -> None:
    ws, outside = world
    fs = Beneath([ws])
    file = fs.locate("a/b/f.txt", ws)
    (ws / "a" / "b" / "f.txt").unlink()
    (ws / "a" / "b" / "f.txt").symlink_to(outside / "f.txt")
    with pytest.raises(UnsafePath):
        fs.read_regular(file)  # never reads the outside file for the model
    fs.write_atomic(file, b"new\n", None)  # the rename replaces the link itself
    assert not (ws / "a" / "b" / "f.txt").is_symlink()
    assert (outside / "f.txt").read_text() == "the person's file\n"


def test_a_hard_link_to_an_outside_file_keeps_the_outside_content(
    world: tuple[Path, Path],
) -> None:
    """Inside a sandbox a hard link to a file outside cannot be made (bubblewrap: another mount,
    EXDEV; Landlock: linking needs the same rights at the source). Made here from outside, it
    still cannot carry a write out: files are replaced by rename, never written in place."""
    ws, outside = world
    os.link(outside / "f.txt", ws / "hard.txt")
    tree = parse_patch(
        "*** Begin Patch\n*** Update File: hard.txt\n@@\n-the person's file\n+x\n*** End Patch\n"
    )
    commit(plan_patch(tree, ws, [ws]))
    assert (ws / "hard.txt").read_text() == "x\n"
    assert (outside / "f.txt").read_text() == "the person's file\n"


def test_only_regular_files_are_read(world: tuple[Path, Path], tmp_path: Path) -> None:
    ws, _ = world
    fs = Beneath([ws])
    os.mkfifo(ws / "fifo")
    with pytest.raises(UnsafePath, match="a FIFO"):
        fs.read_regular(fs.locate("fifo", ws))  # refused before opening: nothing blocks
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(ws / "sock"))
        with pytest.raises(UnsafePath, match="a socket"):
            fs.read_regular(fs.locate("sock", ws))
    finally:
        sock.close()
    with pytest.raises(UnsafePath, match="a character device"):
        Beneath([Path("/dev")]).read_regular(Located(Path("/dev"), ("null",)))
    with pytest.raises(IsADirectoryError):
        fs.read_regular(fs.locate("a", ws))
    with pytest.raises(NotADirectoryError):
        fs.locate("a/b/f.txt/x", ws)


def test_patches_refuse_fifos_and_dangling_links_without_writing(world: tuple[Path, Path]) -> None:
    ws, outside = world
    os.mkfifo(ws / "fifo")
    (ws / "dangling").symlink_to("a/b/missing.txt")
    (ws / "dangling_out").symlink_to(outside / "planted.txt")
    cases = {
        "*** Update File: fifo\n@@\n-x\n+y\n": "a FIFO",
        "*** Add File: dangling\n+x\n": "already exists",
        "*** Add File: dangling_out\n+x\n": "already exists",
    }
    before, outside_before = snapshot(ws), snapshot(outside)
    for body, expected in cases.items():
        with pytest.raises(PatchApplyError, match=expected):
            plan_patch(parse_patch(f"*** Begin Patch\n{body}*** End Patch\n"), ws, [ws])
    assert snapshot(ws) == before and snapshot(outside) == outside_before


def test_a_write_failing_half_way_puts_everything_back(world: tuple[Path, Path]) -> None:
    """All or nothing: the second file cannot be written (its folder became a link after the
    plan), so the first is put back, and the folders the patch made are removed."""
    ws, outside = world
    (ws / "c").mkdir()
    tree = parse_patch(
        "*** Begin Patch\n"
        "*** Update File: a/b/f.txt\n@@\n-inside\n+changed\n"
        "*** Add File: new/deep/n.txt\n+n\n"
        "*** Add File: c/x.txt\n+x\n"
        "*** End Patch\n"
    )
    plan = plan_patch(tree, ws, [ws])
    (ws / "c").rmdir()
    (ws / "c").symlink_to(outside)
    before, outside_before = snapshot(ws), snapshot(outside)
    with pytest.raises(PatchApplyError, match=r"symbolic link.*no files were changed"):
        commit(plan)
    assert snapshot(ws) == before
    assert snapshot(outside) == outside_before


def test_open_folder_holds_the_very_folder(world: tuple[Path, Path]) -> None:
    ws, outside = world
    with open_folder("a/b", ws, [ws]) as held:
        assert held.path == ws / "a" / "b"
        (ws / "a" / "b").rename(ws / "a" / "moved")
        (ws / "a" / "b").symlink_to(outside)
        # The fd still names the real folder, wherever it moved; a child starting there by
        # /proc/self/fd lands in it, not in the folder the name points to now.
        assert os.stat(held.spawn_cwd).st_ino == os.stat(ws / "a" / "moved").st_ino
        assert stat.S_ISDIR(os.stat(held.fd).st_mode)
    with pytest.raises(PathOutsideRoots):
        open_folder("a/b", ws, [ws])
    with pytest.raises(FileNotFoundError):
        open_folder("missing", ws, [ws])
    with pytest.raises(NotADirectoryError):
        open_folder("a/moved/f.txt", ws, [ws])


def test_an_updated_file_keeps_its_mode_but_never_setuid(world: tuple[Path, Path]) -> None:
    ws, _ = world
    tool = ws / "tool"
    tool.write_text("a\n")
    tool.chmod(0o6755)
    commit(
        plan_patch(
            parse_patch("*** Begin Patch\n*** Update File: tool\n@@\n-a\n+b\n*** End Patch\n"),
            ws,
            [ws],
        )
    )
    assert tool.read_text() == "b\n"
    assert stat.S_IMODE(tool.stat().st_mode) == 0o755
