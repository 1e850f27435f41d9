"""Skills: discovery (project and personal), clashes, malformed files, the text the model sees."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from lever.context.skills import (
    SkillError,
    discover_skills,
    new_skill,
    parse_front_matter,
    project_skills_dir,
    render_skills_list,
    save_skill_from,
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "src" / "pkg").mkdir(parents=True)
    return repo


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


def skill(root: Path, folder: str, text: str) -> Path:
    path = root / folder / "SKILL.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def md(name: str, description: str) -> str:
    return f"---\nname: {name}\ndescription: {description}\n---\n\n# {name}\n\nSteps.\n"


def test_project_and_personal_sorted_and_rendered_exactly(repo: Path, home: Path) -> None:
    deploy = skill(repo / ".lever" / "skills", "deploy", md("deploy", "Ship a release to PyPI"))
    bench = skill(home / "skills", "bench", md("bench", '"Run the benchmarks, compare to main"'))
    # Found from a subfolder: project skills live at the repository root.
    skills = discover_skills(repo / "src" / "pkg", home)
    assert [(s.name, s.scope) for s in skills] == [("bench", "personal"), ("deploy", "project")]
    assert skills.warnings == []
    assert skills[0].description == "Run the benchmarks, compare to main"
    assert skills[1].folder == deploy.parent.resolve()
    assert render_skills_list(skills) == (
        "<skills>\n"
        "Skills are saved instructions and scripts. When one is relevant to the task, read its "
        "SKILL.md first and follow it.\n"
        f"- bench: Run the benchmarks, compare to main ({bench.resolve()})\n"
        f"- deploy: Ship a release to PyPI ({deploy.resolve()})\n"
        "</skills>"
    )


def test_no_skills_render_nothing(repo: Path, home: Path) -> None:
    skills = discover_skills(repo, home)
    assert list(skills) == [] and skills.warnings == []
    assert render_skills_list(skills) == ""


def test_project_wins_a_name_clash(repo: Path, home: Path) -> None:
    mine = skill(repo / ".lever" / "skills", "lint", md("lint", "The team's lint"))
    theirs = skill(home / "skills", "lint", md("lint", "My own lint"))
    skills = discover_skills(repo, home)
    assert [(s.description, s.path) for s in skills] == [("The team's lint", mine.resolve())]
    assert len(skills.warnings) == 1
    assert "personal skill 'lint'" in skills.warnings[0] and str(theirs) in skills.warnings[0]


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("# no front matter\n", "no front matter"),
        ("---\nname: x\ndescription: y\n", "not closed"),
        ("---\ndescription: only\n---\n", "no 'name'"),
        ("---\nname: broken\n---\n", "no one-line 'description'"),
        ("---\nname: broken\ndescription: |\n  two\n  lines\n---\n", "one-line"),
        ("---\nname: Bad Name\ndescription: d\n---\n", "bad skill name"),
        ("---\nname: broken\njust words\n---\n", "not 'key: value'"),
    ],
)
def test_malformed_skill_is_skipped_with_a_warning(
    repo: Path, home: Path, text: str, why: str
) -> None:
    bad = skill(repo / ".lever" / "skills", "broken", text)
    skill(repo / ".lever" / "skills", "good", md("good", "Works"))
    skills = discover_skills(repo, home)
    assert [s.name for s in skills] == ["good"]
    assert len(skills.warnings) == 1
    assert str(bad) in skills.warnings[0] and why in skills.warnings[0]


def test_front_matter_ignores_nested_and_extra_keys() -> None:
    text = "---\nname: a\ndescription: b: c\nmetadata:\n  owner: me\n# note\nlicense: MIT\n---\n"
    assert parse_front_matter(text) == {
        "name": "a",
        "description": "b: c",
        "metadata": "",
        "license": "MIT",
    }


def test_new_skill_scaffold_is_discovered(repo: Path, home: Path) -> None:
    path = new_skill(project_skills_dir(repo), "release-notes", "Draft release notes from git")
    assert path == repo.resolve() / ".lever" / "skills" / "release-notes" / "SKILL.md"
    assert path.read_text().startswith(
        "---\nname: release-notes\ndescription: Draft release notes from git\n---\n\n"
    )
    [found] = discover_skills(repo, home)
    assert (found.name, found.description, found.scope) == (
        "release-notes",
        "Draft release notes from git",
        "project",
    )
    with pytest.raises(FileExistsError):
        new_skill(project_skills_dir(repo), "release-notes", "again")
    with pytest.raises(SkillError):
        new_skill(project_skills_dir(repo), "../escape", "no")
    with pytest.raises(SkillError):
        new_skill(project_skills_dir(repo), "ok", "two\nlines")


def test_save_script_as_project_skill_runs_from_the_root(repo: Path, home: Path) -> None:
    script = repo.parent / "session-scratch" / "count_todos.sh"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\ngrep -rc TODO src | wc -l\n")
    path = save_skill_from(script, "count-todos", "Count TODO lines under src", repo)
    saved = repo / ".lever" / "skills" / "count-todos" / "count_todos.sh"
    assert path == saved.with_name("SKILL.md")
    assert os.access(saved, os.X_OK)
    assert "    bash .lever/skills/count-todos/count_todos.sh\n" in path.read_text()
    [found] = discover_skills(repo, home)
    assert (found.name, found.description) == ("count-todos", "Count TODO lines under src")
    (repo / "src" / "a.py").write_text("# TODO one\n")
    out = subprocess.run([str(saved)], cwd=repo, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"
    with pytest.raises(FileExistsError):
        save_skill_from(script, "count-todos", "again", repo)
    with pytest.raises(FileNotFoundError):
        save_skill_from(repo / "missing.py", "other", "d", repo)
