"""`lever skills`: list, scaffold, show and save skills (project and personal)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from lever.cli import exit_codes


def register(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "skills",
        help="list, create, show and save skills",
        description="Skills are folders with a SKILL.md (front matter: name, one-line "
        "description) and any scripts: .lever/skills/NAME/ at the repository root (project, "
        "shared with the team) and $LEVER_HOME/skills/NAME/ (personal). The model sees their "
        "names and descriptions and reads a skill when it needs it.",
    )
    actions = p.add_subparsers(dest="skills_command", metavar="ACTION")
    actions.add_parser("list", help="list the skills the agent sees here (the default)")
    new = actions.add_parser("new", help="scaffold a new skill")
    new.add_argument("name")
    new.add_argument("--description", default="", help="one line: what it is and when to use it")
    new.add_argument("--personal", action="store_true", help="in $LEVER_HOME, not the project")
    show = actions.add_parser("show", help="print a skill's SKILL.md and list its files")
    show.add_argument("name")
    save = actions.add_parser("save", help="save a script as a project skill for the team")
    save.add_argument("script", help="the script to save")
    save.add_argument("--name", required=True)
    save.add_argument("--description", required=True, help="one line: what it does, when")
    return p


def run(args: argparse.Namespace) -> int:
    from lever.config.loader import lever_home
    from lever.context.skills import SkillError

    cwd, home = Path.cwd(), lever_home()
    action = args.skills_command or "list"
    try:
        if action == "new":
            return _new(args, cwd, home)
        if action == "show":
            return _show(args.name, cwd, home)
        if action == "save":
            return _save(args, cwd)
        return _list(cwd, home)
    except (SkillError, FileExistsError, FileNotFoundError) as e:
        print(f"lever skills: {e}", file=sys.stderr)
        return exit_codes.USAGE


def _list(cwd: Path, home: Path) -> int:
    from lever.context.skills import discover_skills, personal_skills_dir, project_skills_dir

    skills = discover_skills(cwd, home)
    for warning in skills.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if not skills:
        print(
            f"no skills (looked in {project_skills_dir(cwd)} and {personal_skills_dir(home)}); "
            "create one with `lever skills new NAME`"
        )
        return exit_codes.OK
    width = max(len(s.name) for s in skills)
    for s in skills:
        print(f"{s.name.ljust(width)}  {s.scope:<8}  {s.description}")
        print(f"{' ' * width}  {'':<8}  {s.path}")
    return exit_codes.OK


def _new(args: argparse.Namespace, cwd: Path, home: Path) -> int:
    from lever.context.skills import new_skill, personal_skills_dir, project_skills_dir

    root = personal_skills_dir(home) if args.personal else project_skills_dir(cwd)
    description = args.description or f"TODO: one line saying what {args.name} does and when"
    path = new_skill(root, args.name, description)
    print(f"created {path}; edit it to say when and how to use the skill")
    return exit_codes.OK


def _show(name: str, cwd: Path, home: Path) -> int:
    from lever.context.skills import discover_skills

    skills = {s.name: s for s in discover_skills(cwd, home)}
    skill = skills.get(name)
    if skill is None:
        known = ", ".join(sorted(skills)) or "none"
        print(f"lever skills: no skill named {name!r} (known: {known})", file=sys.stderr)
        return exit_codes.USAGE
    print(f"# {skill.path} ({skill.scope})")
    sys.stdout.write(skill.path.read_text(encoding="utf-8", errors="replace"))
    others = sorted(p for p in skill.folder.rglob("*") if p.is_file() and p != skill.path)
    if others:
        print("\nfiles:")
        for path in others:
            print(f"  {path.relative_to(skill.folder).as_posix()}")
    return exit_codes.OK


def _save(args: argparse.Namespace, cwd: Path) -> int:
    from lever.context.agents_md import repo_root
    from lever.context.skills import save_skill_from

    root = repo_root(cwd.resolve()) or cwd.resolve()
    path = save_skill_from(Path(args.script), args.name, args.description, root)
    print(f"saved {args.script} as the project skill {args.name!r}: {path}")
    print("commit the .lever/skills folder so the team's agents can use it")
    return exit_codes.OK
