"""AGENTS.md discovery: order, overrides, the size cap and the exact text the model receives."""

from __future__ import annotations

from pathlib import Path

import pytest

from lever.context.agents_md import ProjectDocs, doc_folders, load_project_docs, repo_root

HEADER = (
    "Instructions from AGENTS.md files, global first, then from the repository root down to "
    "the working directory; where they disagree, later files take precedence."
)


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, Path]:
    """home/, and above/repo/(.git) with a/b nested inside; `above` is outside the repo."""
    home = tmp_path / "home"
    above = tmp_path / "above"
    repo = above / "repo"
    cwd = repo / "a" / "b"
    for folder in (home, cwd, repo / ".git"):
        folder.mkdir(parents=True)
    return {"home": home, "above": above, "repo": repo, "a": repo / "a", "cwd": cwd}


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_nothing_found_renders_nothing(tree: dict[str, Path]) -> None:
    docs = load_project_docs(tree["cwd"], tree["home"])
    assert docs.docs == [] and docs.notes == []
    assert docs.render() == ""


def test_global_then_root_down_to_cwd_exact_text(tree: dict[str, Path]) -> None:
    write(tree["home"] / "AGENTS.md", "Answer tersely.\n")
    write(tree["above"] / "AGENTS.md", "outside the repository: never read")
    write(tree["repo"] / "AGENTS.md", "# Repo\n\nRun `make test`.\n\n")
    write(tree["a"] / "AGENTS.md", "Package a: use tabs.")
    write(tree["cwd"] / "AGENTS.md", "   \n\n")  # blank: says nothing, so left out
    docs = load_project_docs(tree["cwd"], tree["home"])
    home, repo, a = tree["home"].resolve(), tree["repo"].resolve(), tree["a"].resolve()
    assert docs.render() == (
        "<project_docs>\n"
        f"{HEADER}\n"
        "\n"
        f"## {home}/AGENTS.md\n"
        "\n"
        "Answer tersely.\n"
        "\n"
        f"## {repo}/AGENTS.md\n"
        "\n"
        "# Repo\n"
        "\n"
        "Run `make test`.\n"
        "\n"
        f"## {a}/AGENTS.md\n"
        "\n"
        "Package a: use tabs.\n"
        "</project_docs>"
    )
    assert docs.notes == []


def test_override_replaces_agents_md_at_its_level_only(tree: dict[str, Path]) -> None:
    write(tree["repo"] / "AGENTS.md", "root rules")
    write(tree["a"] / "AGENTS.md", "a rules")
    write(tree["a"] / "AGENTS.override.md", "a override")
    write(tree["home"] / "AGENTS.md", "global")
    write(tree["home"] / "AGENTS.override.md", "global override")
    docs = load_project_docs(tree["cwd"], tree["home"])
    assert [d.path.name for d in docs.docs] == [
        "AGENTS.override.md",
        "AGENTS.md",
        "AGENTS.override.md",
    ]
    assert [d.text for d in docs.docs] == ["global override", "root rules", "a override"]
    assert "a rules" not in docs.render()


def test_empty_override_silences_its_level(tree: dict[str, Path]) -> None:
    write(tree["repo"] / "AGENTS.md", "root rules")
    write(tree["a"] / "AGENTS.md", "a rules")
    write(tree["a"] / "AGENTS.override.md", "")
    docs = load_project_docs(tree["cwd"], tree["home"])
    assert [d.text for d in docs.docs] == ["root rules"]


def test_outside_a_repository_only_cwd_counts(tmp_path: Path) -> None:
    home, cwd = tmp_path / "home", tmp_path / "x" / "y"
    cwd.mkdir(parents=True)
    home.mkdir()
    write(tmp_path / "x" / "AGENTS.md", "parent: not read")
    write(cwd / "AGENTS.md", "here")
    if repo_root(cwd) is not None:
        pytest.skip("the temporary folder is inside a git repository")
    docs = load_project_docs(cwd, home)
    assert [d.text for d in docs.docs] == ["here"]


def test_git_file_of_a_worktree_marks_the_root(tmp_path: Path) -> None:
    repo = tmp_path / "wt"
    (repo / "sub").mkdir(parents=True)
    write(repo / ".git", "gitdir: /elsewhere/.git/worktrees/wt\n")
    assert repo_root(repo / "sub") == repo
    assert doc_folders(repo / "sub") == [repo.resolve(), (repo / "sub").resolve()]


def test_cwd_at_the_root_reads_one_file(tree: dict[str, Path]) -> None:
    write(tree["repo"] / "AGENTS.md", "root")
    docs = load_project_docs(tree["repo"], tree["home"])
    assert [d.text for d in docs.docs] == ["root"]


def test_cap_cuts_the_farthest_file_and_says_so(tree: dict[str, Path]) -> None:
    write(tree["home"] / "AGENTS.md", "G" * 40)
    write(tree["repo"] / "AGENTS.md", "R" * 30)
    write(tree["a"] / "AGENTS.md", "A" * 20)
    docs = load_project_docs(tree["cwd"], tree["home"], max_bytes=60)
    home, repo = tree["home"].resolve(), tree["repo"].resolve()
    # The closest files take precedence, so they keep their text; the global file loses it.
    assert [d.text for d in docs.docs] == ["G" * 10, "R" * 30, "A" * 20]
    cut = (
        f"[lever: {home}/AGENTS.md was cut: kept the first 10 of 40 bytes; "
        "AGENTS.md files are capped at 60 bytes in total]"
    )
    assert docs.notes == [cut]
    assert docs.render().startswith(
        f"<project_docs>\n{HEADER}\n\n## {home}/AGENTS.md\n\n{'G' * 10}\n{cut}\n\n"
        f"## {repo}/AGENTS.md\n\n"
    )
    assert sum(len(d.text.encode()) for d in docs.docs) == 60


def test_cap_leaves_out_files_that_get_nothing(tree: dict[str, Path]) -> None:
    write(tree["repo"] / "AGENTS.md", "R" * 30)
    write(tree["a"] / "AGENTS.md", "A" * 50)
    docs = load_project_docs(tree["cwd"], tree["home"], max_bytes=40)
    root_doc, a_doc = docs.docs
    assert a_doc.text == "A" * 40 and "kept the first 40 of 50 bytes" in a_doc.note
    assert root_doc.text == "" and root_doc.omitted
    repo = tree["repo"].resolve()
    assert root_doc.note == (
        f"[lever: {repo}/AGENTS.md (30 bytes) was left out: AGENTS.md files are capped at "
        "40 bytes in total and closer files used it up]"
    )
    # The header still names the file, so the model knows it exists and can read it.
    assert f"## {repo}/AGENTS.md\n\n{root_doc.note}\n" in docs.render()


def test_cap_never_splits_a_character(tree: dict[str, Path]) -> None:
    write(tree["repo"] / "AGENTS.md", "é" * 10)  # 2 bytes each
    docs = load_project_docs(tree["cwd"], tree["home"], max_bytes=5)
    assert docs.docs[0].text == "éé"
    assert "kept the first 4 of 20 bytes" in docs.notes[0]


def test_render_is_byte_stable(tree: dict[str, Path]) -> None:
    write(tree["repo"] / "AGENTS.md", "root")
    first = load_project_docs(tree["cwd"], tree["home"]).render()
    assert load_project_docs(tree["cwd"], tree["home"]).render() == first
    assert ProjectDocs().render() == ""
