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
