"""lever's own site-packages inside a writable root (issue 14: a `.pth` file planted by a
command runs unconfined the next time lever starts from that virtualenv). bubblewrap binds it
read-only; under Landlock new entries are removed, lever's package restored and the model told,
and metadata changes there are refused by the supervisor."""

from __future__ import annotations

from pathlib import Path

import pytest

from lever.sandbox import launcher_home
from tests.sandbox.escape_world import World
from tests.security.confined import MECHANISMS, sandbox_for


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch) -> object:
    w = World.create()
    site = w.ws / ".venv" / "lib" / "python3" / "site-packages"
    (site / "lever").mkdir(parents=True)
    (site / "lever" / "__init__.py").write_text("VERSION = 1\n")
    (site / "six.py").write_text("# a dependency\n")
    # raising=False: on a lever without the protection the test fails on what it checks.
    monkeypatch.setattr(launcher_home, "own_sites", lambda: (str(site.resolve()),), raising=False)
    yield w, site
    w.close()


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_pth_planted_in_levers_own_site_packages_is_refused_or_removed(
    mechanism: str, site: tuple[World, Path]
) -> None:
    world, packages = site
    sandbox = sandbox_for(mechanism)
    script = (
        "echo 'import os' > .venv/lib/python3/site-packages/x.pth; "
        "echo 'import os' > .venv/lib/python3/site-packages/sitecustomize.py; "
        "echo 'import os' >> .venv/lib/python3/site-packages/lever/__init__.py; "
        "echo ok > src/allowed.txt"
    )
    result = world.run(sandbox, ["sh", "-c", script])
    assert (world.ws / "src" / "allowed.txt").exists()  # the rest of the workspace is writable
    assert not (packages / "x.pth").exists()
    assert not (packages / "sitecustomize.py").exists()
    assert (packages / "lever" / "__init__.py").read_text() == "VERSION = 1\n"
    if mechanism == "landlock":
        # Written, then undone right after the command, and the model is told.
        assert "x.pth" in result.stdout and "lever/__init__.py" in result.stdout, result
        assert any("x.pth" in told for told in world.told)


def test_metadata_in_levers_own_site_packages_is_refused(site: tuple[World, Path]) -> None:
    world, packages = site
    sandbox = sandbox_for("landlock")
    before = (packages / "six.py").stat().st_mode
    result = world.run(sandbox, ["chmod", "0777", ".venv/lib/python3/site-packages/six.py"])
    assert result.returncode != 0 and (packages / "six.py").stat().st_mode == before
    ok = world.run(sandbox, ["chmod", "0777", "README.md"])
    assert ok.returncode == 0, ok
