"""Prompts as Markdown files; `load_prompt(name)` reads one from this package."""

from importlib.resources import files


def load_prompt(name: str) -> str:
    return (files(__name__) / f"{name}.md").read_text(encoding="utf-8")


#: What the approval policy means for a small model, in `system_small.md`. Every line says the
#: model runs commands itself: told only "on-request", a small model asks the person instead.
SMALL_APPROVAL_NOTES = {
    "untrusted": "Commands that only read run at once; for the others lever asks the person "
    "itself, and you get the result.",
    "on-failure": "Commands run at once in a sandbox; if one fails because of the sandbox, lever "
    "asks the person itself.",
    "on-request": "Commands run at once in a sandbox, without approval. Set `escalate` only when "
    "a command failed because of the sandbox.",
    "never": "Commands run at once in a sandbox; nobody is asked.",
}


def small_model_prompt(policy: str) -> str:
    """`system_small.md` for a session whose approval policy is `policy`."""
    note = SMALL_APPROVAL_NOTES[policy]
    return load_prompt("system_small").replace("{approval}", note)
