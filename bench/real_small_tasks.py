"""Eight small tasks for bench/real_best_of_k.py: a one- or two-line fix in a tiny repository.

Written before any run, not tuned on the model's results. Each is a file or two, a request as
a person would type it, and a check (`python -c` asserts, run with lever's interpreter) that
fails on the untouched repository and passes on the obvious fix — checked by
`python bench/real_small_tasks.py`, which applies each task's `fix` and runs its check.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SmallTask:
    id: str
    files: dict[str, str]
    prompt: str
    check: str  # Python source: asserts
    fix: dict[str, str]  # the reference files, for the self-check only

    def verify(self, python: str) -> str:
        return f"{python} -c {_quote(self.check)}"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


TASKS = [
    SmallTask(
        "add-sign",
        {"calc.py": "def add(a, b):\n    return a - b\n"},
        "`calc.add(2, 3)` returns -1 instead of 5. Fix `add` in calc.py.",
        "import calc; assert calc.add(2, 3) == 5 and calc.add(-1, 1) == 0",
        {"calc.py": "def add(a, b):\n    return a + b\n"},
    ),
    SmallTask(
        "last-item",
        {"seq.py": "def last(items):\n    return items[len(items)]\n"},
        "`seq.last([1, 2, 3])` raises IndexError; it should return the last item. Fix it.",
        "import seq; assert seq.last([1, 2, 3]) == 3 and seq.last(['a']) == 'a'",
        {"seq.py": "def last(items):\n    return items[-1]\n"},
    ),
    SmallTask(
        "hour-constant",
        {"timeconst.py": "SECONDS_PER_MINUTE = 60\nSECONDS_PER_HOUR = 360\n"},
        "SECONDS_PER_HOUR in timeconst.py is wrong. Fix the constant.",
        "import timeconst; assert timeconst.SECONDS_PER_HOUR == 3600",
        {"timeconst.py": "SECONDS_PER_MINUTE = 60\nSECONDS_PER_HOUR = 3600\n"},
    ),
    SmallTask(
        "greeting",
        {"greet.py": 'def greet(name):\n    return "Hi " + name\n'},
        'Make `greet.greet("Ada")` return exactly "Hello, Ada!".',
        "import greet; assert greet.greet('Ada') == 'Hello, Ada!'",
        {"greet.py": 'def greet(name):\n    return f"Hello, {name}!"\n'},
    ),
    SmallTask(
        "average-empty",
        {"stats.py": "def average(xs):\n    return sum(xs) / len(xs)\n"},
        "`stats.average([])` raises ZeroDivisionError. Make it return 0.0 for an empty list.",
        "import stats; assert stats.average([]) == 0.0 and stats.average([1, 3]) == 2",
        {"stats.py": "def average(xs):\n    return sum(xs) / len(xs) if xs else 0.0\n"},
    ),
    SmallTask(
        "is-even",
        {"parity.py": "def is_odd(n):\n    return n % 2 == 1\n"},
        "Add a function `is_even(n)` to parity.py that returns True for even integers.",
        "import parity; assert parity.is_even(4) and not parity.is_even(7) and parity.is_even(0)",
        {
            "parity.py": "def is_odd(n):\n    return n % 2 == 1\n\n\n"
            "def is_even(n):\n    return n % 2 == 0\n"
        },
    ),
    SmallTask(
        "typo-message",
        {"messages.py": 'RECEIVED = "Message recieved"\n'},
        "Fix the spelling mistake in the RECEIVED message in messages.py.",
        "import messages; assert messages.RECEIVED == 'Message received'",
        {"messages.py": 'RECEIVED = "Message received"\n'},
    ),
    SmallTask(
        "clamp-bounds",
        {"clamp.py": "def clamp(x, low, high):\n    return max(high, min(low, x))\n"},
        "`clamp.clamp(5, 0, 10)` should return 5 (x limited to [low, high]). Fix `clamp`.",
        "import clamp as c; assert c.clamp(5, 0, 10) == 5 and c.clamp(-3, 0, 10) == 0 "
        "and c.clamp(42, 0, 10) == 10",
        {"clamp.py": "def clamp(x, low, high):\n    return max(low, min(high, x))\n"},
    ),
]


def write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).write_text(text)


def self_check() -> int:
    """Every check fails untouched and passes with the fix."""
    bad = 0
    for task in TASKS:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            write(folder, task.files)
            run = ["bash", "-c", task.verify(sys.executable)]
            before = subprocess.run(run, cwd=folder, capture_output=True).returncode
            write(folder, task.fix)
            after = subprocess.run(run, cwd=folder, capture_output=True).returncode
        ok = before != 0 and after == 0
        bad += not ok
        print(f"{task.id}: untouched exit {before}, fixed exit {after}: {'ok' if ok else 'BAD'}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(self_check())
