import subprocess
import sys

TEXT = "The cat, the dog. A cat! the END; dog bird"


def run(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "wordfreq", *args], input=stdin,
                          capture_output=True, text=True)


def test_stdin_dash():
    result = run("-", "--top", "3", stdin=TEXT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["3 the", "2 cat", "2 dog"]


def test_stdin_default_and_ties():
    result = run("--top", "5", stdin=TEXT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["3 the", "2 cat", "2 dog", "1 a", "1 bird"]


def test_file(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("b a b")
    assert run(str(path), "--top", "1").stdout == "2 b\n"
