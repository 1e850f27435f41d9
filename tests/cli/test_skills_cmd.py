"""`lever skills`: list, new, show and save, driven through lever.cli.main.main."""

from __future__ import annotations

from pathlib import Path

import pytest

from lever.cli.main import main


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("LEVER_HOME", str(home))
    return home


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "src").mkdir()
    monkeypatch.chdir(repo / "src")  # commands find the repository root from a subfolder
    return repo.resolve()


def test_empty_list_says_where_it_looked(home, repo, capsys) -> None:
    assert main(["skills"]) == 0
    out = capsys.readouterr().out
    assert str(repo / ".lever" / "skills") in out and "lever skills new NAME" in out


def test_new_then_list_then_show(home, repo, capsys) -> None:
    assert main(["skills", "new", "triage", "--description", "Sort new issues by area"]) == 0
    skill_md = repo / ".lever" / "skills" / "triage" / "SKILL.md"
    assert str(skill_md) in capsys.readouterr().out
    assert main(["skills", "new", "notes", "--personal", "--description", "My notes"]) == 0
    capsys.readouterr()
    (skill_md.parent / "triage.py").write_text("print('triage')\n")

    assert main(["skills", "list"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "notes   personal  My notes",
        f"                  {home.resolve() / 'skills' / 'notes' / 'SKILL.md'}",
        "triage  project   Sort new issues by area",
        f"                  {skill_md}",
    ]

    assert main(["skills", "show", "triage"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"# {skill_md} (project)\n---\nname: triage\n")
    assert out.endswith("\nfiles:\n  triage.py\n")


def test_new_without_description_gets_a_placeholder(home, repo, capsys) -> None:
    assert main(["skills", "new", "x"]) == 0
    text = (repo / ".lever" / "skills" / "x" / "SKILL.md").read_text()
    assert "description: TODO: one line saying what x does and when\n" in text


def test_errors_are_usage_errors(home, repo, capsys) -> None:
    assert main(["skills", "show", "nope"]) == 2
    assert "no skill named 'nope' (known: none)" in capsys.readouterr().err
    assert main(["skills", "new", "Bad Name"]) == 2
    assert "bad skill name" in capsys.readouterr().err
    main(["skills", "new", "dup", "--description", "d"])
    assert main(["skills", "new", "dup", "--description", "d"]) == 2
    assert "already exists" in capsys.readouterr().err


def test_malformed_skill_warns_on_stderr(home, repo, capsys) -> None:
    bad = home / "skills" / "bad" / "SKILL.md"
    bad.parent.mkdir(parents=True)
    bad.write_text("no front matter\n")
    assert main(["skills"]) == 0
    captured = capsys.readouterr()
    assert captured.err == (
        f"warning: skipped skill {bad}: no front matter (the file must start with a '---' line)\n"
    )
    assert captured.out.startswith("no skills")


def test_save_a_script_as_a_project_skill(home, repo, tmp_path, capsys) -> None:
    script = tmp_path / "gen_fixtures.py"
    script.write_text("print('fixtures')\n")
    args = ["skills", "save", str(script), "--name", "gen-fixtures", "--description", "Regen"]
    assert main(args) == 0
    saved = repo / ".lever" / "skills" / "gen-fixtures"
    assert "commit the .lever/skills folder" in capsys.readouterr().out
    assert (saved / "gen_fixtures.py").read_text() == "print('fixtures')\n"
    assert "python3 .lever/skills/gen-fixtures/gen_fixtures.py" in (saved / "SKILL.md").read_text()
    assert main(["skills", "list"]) == 0
    assert "gen-fixtures  project   Regen" in capsys.readouterr().out
    missing = ["skills", "save", str(tmp_path / "missing.sh"), "--name", "m", "--description", "d"]
    assert main(missing) == 2
    assert "no such script" in capsys.readouterr().err
