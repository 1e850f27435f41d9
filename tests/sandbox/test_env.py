from lever.sandbox.env import command_env


def test_secrets_are_dropped_and_pager_pinned() -> None:
    env = command_env(
        {
            "PATH": "/bin",
            "OPENAI_API_KEY": "sk",
            "GITHUB_TOKEN": "t",
            "DB_PASSWORD": "p",
            "aws_secret_access_key": "s",
            "HOME": "/root",
        }
    )
    assert env["PATH"] == "/bin" and env["HOME"] == "/root"
    for name in ("OPENAI_API_KEY", "GITHUB_TOKEN", "DB_PASSWORD", "aws_secret_access_key"):
        assert name not in env
    assert env["PAGER"] == "cat" and env["GIT_TERMINAL_PROMPT"] == "0"


def test_include_exclude_and_set() -> None:
    env = command_env(
        {"PATH": "/bin", "NPM_TOKEN": "t", "FOO": "1"},
        include=["NPM_TOKEN"],
        exclude=["FOO"],
        set_vars={"CI": "1"},
    )
    assert env["NPM_TOKEN"] == "t" and "FOO" not in env and env["CI"] == "1"
