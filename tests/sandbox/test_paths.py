import pytest

from lever.sandbox.paths import PathOutsideRoots, confine


def test_inside_paths_resolve(tmp_path) -> None:
    assert confine("a/b.txt", tmp_path, [tmp_path]) == (tmp_path / "a/b.txt").resolve()
    assert confine(tmp_path / "x", tmp_path, [tmp_path]) == (tmp_path / "x").resolve()


@pytest.mark.parametrize("path", ["../evil", "/etc/passwd", "a/../../evil"])
def test_escapes_are_refused(tmp_path, path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(PathOutsideRoots):
        confine(path, root, [root])


def test_symlink_out_is_refused(tmp_path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(tmp_path)
    with pytest.raises(PathOutsideRoots):
        confine("link/file", root, [root])
