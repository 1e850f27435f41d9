"""`lever demo --local`: the real 1.5B answers the sample's question, labelled as a real model.

Runs the installed command with the real lever home (where `lever local pull` put the models
and `lever local build` the server), as a newcomer would after pulling.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from lever.local.models import MODELS
from lever.local.pull import is_pulled

from .conftest import TIMEOUT, need_binary


@pytest.mark.local_model
@pytest.mark.timeout(TIMEOUT)
def test_demo_local_runs_the_real_model_and_judges_its_answer() -> None:
    if not is_pulled(MODELS["1.5b"]):
        pytest.skip("the 1.5b model is not pulled: run `lever local pull 1.5b`")
    need_binary()
    lever = shutil.which("lever")
    assert lever, "run through `uv run`"
    result = subprocess.run(
        [lever, "demo", "--local"],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=TIMEOUT - 20,
        check=False,
    )
    if "illegal instruction" in result.stderr:
        pytest.skip("llama-server cannot run on this CPU: run `lever local build`")
    assert "a REAL model: Qwen2.5-Coder-1.5B" in result.stderr
    assert "requests" in result.stderr and "prompt tokens" in result.stderr
    assert result.returncode == 0, result.stderr[-3000:]
    assert "the model answered correctly: README.md has 4 lines" in result.stderr


def test_an_unknown_model_is_a_usage_error() -> None:
    result = subprocess.run(
        ["lever", "demo", "--local", "--model", "70b"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "unknown model '70b'" in result.stderr
