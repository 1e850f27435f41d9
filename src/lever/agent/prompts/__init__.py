"""Prompts as Markdown files; `load_prompt(name)` reads one from this package."""

from importlib.resources import files


def load_prompt(name: str) -> str:
    return (files(__name__) / f"{name}.md").read_text(encoding="utf-8")
