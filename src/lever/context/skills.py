"""Skills: reusable instructions and scripts the agent reads when a task calls for them.

A skill is a folder holding a `SKILL.md` (front matter with `name` and a one-line `description`,
then free Markdown) plus any scripts. Project skills live in `<repo root>/.lever/skills/NAME/` and
travel with the repository; personal ones in `$LEVER_HOME/skills/NAME/`. A project skill wins a
name clash: the team's version is the one everybody's agent should use.

The model sees only the list (name, description, path of SKILL.md) and reads a skill's files with
its ordinary tools when it needs them, so a large library costs a few lines of context.
"""

from __future__ import annotations

import re
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from lever.context.agents_md import repo_root

SKILL_FILE = "SKILL.md"
#: Lowercase words joined by - _ or . : safe as a folder name and easy to type.
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MAX_DESCRIPTION = 1024

Scope = Literal["project", "personal"]

_INSTRUCTION = (
    "Skills are saved instructions and scripts. When one is relevant to the task, read its "
    "SKILL.md first and follow it."
)


class SkillError(ValueError):
    """A malformed SKILL.md or a bad name/description."""


@dataclass(frozen=True)
class Skill:
    name: str
    description: str
    #: The SKILL.md file; its folder holds the skill's scripts.
    path: Path
    scope: Scope

    @property
    def folder(self) -> Path:
        return self.path.parent


class DiscoveredSkills(list[Skill]):
    """The skills found, plus warnings about the ones skipped or shadowed."""

    def __init__(self, skills: list[Skill], warnings: list[str]) -> None:
        super().__init__(skills)
        self.warnings = warnings


@dataclass
class _Found:
    skills: dict[str, Skill] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def project_skills_dir(cwd: Path) -> Path:
    """`.lever/skills` at the repository root (at cwd outside a repository)."""
    cwd = cwd.resolve()
    return (repo_root(cwd) or cwd) / ".lever" / "skills"


def personal_skills_dir(home: Path) -> Path:
    return home / "skills"


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise SkillError(
            f"bad skill name {name!r}: use lowercase letters, digits, '-', '_' or '.' "
            "(at most 64 characters, starting with a letter or digit)"
        )
    return name


def check_description(description: str) -> str:
    text = description.strip()
    if not text or "\n" in text or len(text) > MAX_DESCRIPTION:
        raise SkillError(
            f"a skill's description must be one non-empty line of at most {MAX_DESCRIPTION} "
            "characters"
        )
    return text


def parse_front_matter(text: str) -> dict[str, str]:
    """The `key: value` lines between the leading `---` fences. Only flat one-line values are
    read (indented lines, nested under a key, are ignored); anything else is an error."""
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        raise SkillError("no front matter (the file must start with a '---' line)")
    fields: dict[str, str] = {}
    for line in lines[1:]:
        if line.strip() == "---":
            return fields
        if not line.strip() or line.lstrip().startswith("#") or line[0] in " \t":
            continue
        key, sep, value = line.partition(":")
        if not sep or not key.strip():
            raise SkillError(f"front matter line is not 'key: value': {line!r}")
        fields[key.strip()] = _unquote(value.strip())
    raise SkillError("front matter is not closed by a '---' line")


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def read_skill(path: Path, scope: Scope) -> Skill:
    """The skill whose SKILL.md is `path`; SkillError when its front matter is unusable."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise SkillError(f"cannot read: {e}") from e
    fields = parse_front_matter(text)
    name = fields.get("name", "")
    description = fields.get("description", "")
    if not name:
        raise SkillError("front matter has no 'name'")
    if description in ("", "|", ">", "|-", ">-"):  # empty, or a multi-line YAML block
        raise SkillError("front matter has no one-line 'description'")
    return Skill(check_name(name), check_description(description), path.resolve(), scope)


def _scan(root: Path, scope: Scope, found: _Found) -> None:
    if not root.is_dir():
        return
    for folder in sorted(root.iterdir()):
        path = folder / SKILL_FILE
        if not path.is_file():
            continue
        try:
            skill = read_skill(path, scope)
        except SkillError as e:
            found.warnings.append(f"skipped skill {path}: {e}")
            continue
        other = found.skills.get(skill.name)
        if other is None:
            found.skills[skill.name] = skill
        elif other.scope != scope:
            found.warnings.append(
                f"{scope} skill {skill.name!r} ({path}) is shadowed by the {other.scope} "
                f"skill at {other.path}"
            )
        else:
            found.warnings.append(
                f"skipped skill {path}: the name {skill.name!r} is taken by {other.path}"
            )


def discover_skills(cwd: Path, home: Path) -> DiscoveredSkills:
    """Project skills, then personal ones; sorted by name so the list is byte-stable."""
    found = _Found()
    project = project_skills_dir(cwd)
    personal = personal_skills_dir(home)
    _scan(project, "project", found)
    if personal.resolve() != project.resolve():
        _scan(personal, "personal", found)
    skills = sorted(found.skills.values(), key=lambda s: s.name)
    return DiscoveredSkills(skills, found.warnings)


def render_skills_list(skills: list[Skill]) -> str:
    """The exact text the model receives; "" when there are no skills."""
    if not skills:
        return ""
    lines = ["<skills>", _INSTRUCTION]
    lines += [f"- {s.name}: {s.description} ({s.path})" for s in skills]
    lines.append("</skills>")
    return "\n".join(lines)


def _skill_md(name: str, description: str, body: str) -> str:
    return f"---\nname: {name}\ndescription: {description}\n---\n\n# {name}\n\n{body}"


def new_skill(root: Path, name: str, description: str) -> Path:
    """Scaffold `root/NAME/SKILL.md` (root is a skills folder, e.g. `project_skills_dir(cwd)`);
    returns the SKILL.md path. Refuses to overwrite an existing skill."""
    check_name(name)
    description = check_description(description)
    folder = root / name
    if folder.exists():
        raise FileExistsError(f"skill folder {folder} already exists")
    folder.mkdir(parents=True)
    body = (
        f"{description}\n\n"
        "## When to use\n\nDescribe the situations this skill is for.\n\n"
        "## Steps\n\n1. Say what to do, which scripts in this folder to run and how.\n"
    )
    path = folder / SKILL_FILE
    path.write_text(_skill_md(name, description, body), encoding="utf-8")
    return path


def _run_line(script: Path, relative: str) -> str:
    interpreter = {".py": "python3 ", ".sh": "bash "}.get(script.suffix, "")
    return f"{interpreter}{relative}"


def save_skill_from(script: Path, name: str, description: str, project_root: Path) -> Path:
    """Save a script the agent wrote during a session as a project skill, so the team inherits
    it: `project_root/.lever/skills/NAME/` with the script and a SKILL.md saying how to run it.
    Returns the SKILL.md path."""
    if not script.is_file():
        raise FileNotFoundError(f"no such script: {script}")
    check_name(name)
    description = check_description(description)
    root = project_root / ".lever" / "skills"
    folder = root / name
    if folder.exists():
        raise FileExistsError(f"skill folder {folder} already exists")
    folder.mkdir(parents=True)
    target = folder / script.name
    shutil.copy2(script, target)
    target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    relative = target.relative_to(project_root).as_posix()
    body = (
        f"{description}\n\n"
        "## How to run\n\n"
        f"From the repository root:\n\n    {_run_line(script, relative)}\n\n"
        f"Read `{relative}` first to check its arguments and what it changes.\n"
    )
    path = folder / SKILL_FILE
    path.write_text(_skill_md(name, description, body), encoding="utf-8")
    return path
