"""Collecting the diff with real git: the three targets, the files and their new line counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from lever.review.diff import DiffError, DiffTarget, collect_diff, parse_target

from .conftest import git


def test_uncommitted_has_staged_unstaged_and_untracked(buggy_repo: Path) -> None:
    (buggy_repo / "README.md").write_text("# calc\n\nunstaged line\n")
    diff = collect_diff(buggy_repo, DiffTarget("uncommitted"))
    assert diff.files == {"calc.py": 9, "README.md": 3, "report.py": 5}
    assert "+    return min(low, max(x, high))" in diff.text  # staged
    assert "+unstaged line" in diff.text  # unstaged
    assert "+def report(values):" in diff.text  # untracked
    assert "len(values) - 1" not in diff.text  # committed on the branch already


def test_base_is_merge_base_to_head(buggy_repo: Path) -> None:
    diff = collect_diff(buggy_repo, DiffTarget("base", "main"))
    assert diff.files == {"calc.py": 9}
    assert "+    return sum(values) / (len(values) - 1)" in diff.text
    assert "min(low, max" not in diff.text  # uncommitted work is not part of it
    assert diff.description.startswith("changes on HEAD since main")


def test_commit_against_its_parent_and_a_root_commit(buggy_repo: Path) -> None:
    head = git(buggy_repo, "rev-parse", "HEAD").strip()
    diff = collect_diff(buggy_repo, DiffTarget("commit", head[:8]))
    assert diff.files == {"calc.py": 9}
    assert "Speed up average" in diff.description
    root = git(buggy_repo, "rev-list", "--max-parents=0", "HEAD").strip()
    first = collect_diff(buggy_repo, DiffTarget("commit", root))
    assert first.files == {"calc.py": 9, "README.md": 1}


def test_deleted_file_has_no_lines(buggy_repo: Path) -> None:
    git(buggy_repo, "rm", "-q", "README.md")
    diff = collect_diff(buggy_repo, DiffTarget("uncommitted"))
    assert diff.files["README.md"] == 0


def test_errors_are_clear(buggy_repo: Path, tmp_path: Path) -> None:
    with pytest.raises(DiffError, match="no branch or commit named 'nope'"):
        collect_diff(buggy_repo, DiffTarget("base", "nope"))
    with pytest.raises(DiffError, match="no commit named"):
        collect_diff(buggy_repo, DiffTarget("commit", "deadbeef"))
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(DiffError, match="not inside a git repository"):
        collect_diff(plain, DiffTarget("uncommitted"))


def test_clean_tree_is_empty(buggy_repo: Path) -> None:
    git(buggy_repo, "add", ".")
    git(buggy_repo, "commit", "-q", "-m", "wip")
    assert collect_diff(buggy_repo, DiffTarget("uncommitted")).empty


def test_parse_target_reads_the_review_flags() -> None:
    assert parse_target([]) == DiffTarget("uncommitted")
    assert parse_target(["--uncommitted"]) == DiffTarget("uncommitted")
    assert parse_target(["--base", "main"]) == DiffTarget("base", "main")
    assert parse_target(["--commit", "1a2b3c"]) == DiffTarget("commit", "1a2b3c")
    for words, error in [
        (["--base"], "unexpected '--base'"),
        (["--commit", "--base", "main"], "unexpected '--commit'"),
        (["main"], "unexpected 'main'"),
        (["--base", "main", "--commit", "x"], "exclude each other"),
    ]:
        with pytest.raises(DiffError, match=error):
            parse_target(words)
