import subprocess
import sys

from lever.cli.main import COMMANDS, build_parser


def test_building_the_parser_imports_nothing_heavy() -> None:
    """`lever --help` stays fast: registering a command imports no pydantic, httpx or asyncio."""
    code = (
        "import sys; from lever.cli.main import build_parser; build_parser(); "
        "print(sorted(m for m in ('pydantic', 'httpx', 'asyncio', 'textual', 'mcp') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_command_is_registered_under_its_name() -> None:
    parser = build_parser()
    arguments = {"exec": ["x"], "fork": ["x"], "local": ["status"]}
    for name in COMMANDS:
        args, _ = parser.parse_known_args([name, *arguments.get(name, [])])
        assert args.command == name


def test_a_word_close_to_a_command_is_refused_not_sent_as_a_prompt(capsys) -> None:
    from lever.cli.main import main

    for word, meant in (("sesions", "sessions"), ("exce", "exec"), ("reveiw", "review")):
        assert main([word, "--all"]) == 2
        err = capsys.readouterr().err
        assert err == f"lever: error: unknown command '{word}' — did you mean `lever {meant}`?\n"


def test_prompts_still_open_the_app(monkeypatch) -> None:
    """A prompt (quoted, or words not close to a command) goes to the app, not to did-you-mean."""
    from lever.cli import main as main_module
    from lever.cli import tui_cmd

    opened: list[list[str]] = []
    monkeypatch.setattr(tui_cmd, "main", lambda words: opened.append(list(words)) or 0)
    for words in (["fix the bug"], ["fix", "the", "bug"], ["explain"], ["exec it"], []):
        assert main_module.main(words) == 0
    assert opened == [["fix the bug"], ["fix", "the", "bug"], ["explain"], ["exec it"], []]


def test_the_app_refuses_to_open_without_a_terminal(capsys) -> None:
    from lever.cli import tui_cmd

    # Under pytest stdin is not a terminal: the app must not start (it would hang).
    assert tui_cmd.main(["a prompt"]) == 2
    err = capsys.readouterr().err
    assert "needs a terminal" in err and 'lever exec "task"' in err


def test_usage_errors_are_one_line(capsys) -> None:
    import pytest

    parser = build_parser()
    for argv, wanted in (
        (["exec", "--max-turns", "0", "t"], "--max-turns: expected an integer ≥ 1, got '0'"),
        (["exec", "--timeout", "-2", "t"], "argument --timeout: expected a number of seconds > 0"),
        (["exec", "--compact-at", "0%", "t"], "argument --compact-at: expected N tokens"),
        (["resume", "--max-tokens", "x"], "argument --max-tokens: expected an integer ≥ 1"),
        (["exec", "--sandbox", "wide", "t"], "argument --sandbox: invalid choice: 'wide'"),
    ):
        with pytest.raises(SystemExit) as info:
            parser.parse_args(argv)
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and wanted in err, err


def test_every_provider_help_names_the_local_model() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    with_provider = [
        name
        for name, p in sub.choices.items()  # type: ignore[attr-defined]
        if any("--provider" in a.option_strings for a in p._actions)
    ]
    assert {"exec", "models", "review", "resume", "fork"} <= set(with_provider)
    for name in with_provider:
        action = next(
            a
            for a in sub.choices[name]._actions  # type: ignore[attr-defined]
            if "--provider" in a.option_strings
        )
        assert action.help.startswith("local (a small model on this machine")


def test_prompt_prints_the_small_prompt_for_a_policy(capsys) -> None:
    from lever.agent.prompts import small_model_prompt
    from lever.cli.main import main

    assert main(["prompt", "--local", "-a", "on-request"]) == 0
    assert capsys.readouterr().out == small_model_prompt("on-request")
