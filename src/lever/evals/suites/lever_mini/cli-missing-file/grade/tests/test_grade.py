import subprocess
import sys


def run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "wc_lite", *args], cwd=cwd,
                          capture_output=True, text=True)


def test_missing_file(tmp_path):
    import shutil
    shutil.copytree("wc_lite", tmp_path / "wc_lite")
    (tmp_path / "a.txt").write_text("1\n2\n3\n")
    result = run("a.txt", "nope.txt", "--total", cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == "wc_lite: nope.txt: no such file"
    assert result.stdout.splitlines() == ["3 a.txt", "3 total"]


def test_total(tmp_path):
    import shutil
    shutil.copytree("wc_lite", tmp_path / "wc_lite")
    (tmp_path / "a.txt").write_text("x\n")
    (tmp_path / "b.txt").write_text("x\ny\n")
    result = run("a.txt", "b.txt", "--total", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["1 a.txt", "2 b.txt", "3 total"]
