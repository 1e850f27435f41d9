"""Real llama-servers with real small models for the tests in this folder.

Nothing is faked here: the pinned GGUFs pulled by `lever local pull` (in the real lever home,
`$LEVER_HOME` or ~/.lever) run on llama-server on 127.0.0.1. When the model is not pulled or no
server binary can run on this machine, the tests are skipped with that reason — never passed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from lever.local import LocalError
from lever.local.models import MODELS, local_dir, model_path
from lever.local.pull import is_pulled
from lever.local.server import ServerSpec, find_server_binary, free_port, start, stop_process

#: Model tests are slow on 2 cores; pytest-timeout's default is too tight for the first load.
TIMEOUT = 300


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "local_model: runs a real small model on llama-server (skipped, with the reason, when "
        "the model is not pulled or no llama-server runs here)",
    )


def need_model(name: str) -> Path:
    model = MODELS[name]
    if not is_pulled(model):
        pytest.skip(f"the {name} model is not pulled: run `lever local pull {name}`")
    return model_path(model)


def need_binary() -> Path:
    try:
        return find_server_binary()
    except LocalError as e:
        pytest.skip(str(e))


@contextmanager
def real_server(
    name: str, *, ctx_size: int = 8192, own_template: bool = True, tag: str = ""
) -> Iterator[str]:
    """A llama-server with the pulled model `name`; yields its `/v1` base URL."""
    gguf = need_model(name)
    spec = ServerSpec(gguf=gguf, binary=need_binary(), port=free_port(), ctx_size=ctx_size)
    if not own_template:
        spec.template = None  # the GGUF's own chat template
    log = local_dir() / "logs" / f"test-{name}{tag}-{spec.port}.log"
    try:
        process = start(spec, log)
    except LocalError as e:
        if "illegal instruction" in str(e):
            pytest.skip(f"llama-server cannot run on this CPU: {str(e).splitlines()[0]}")
        raise
    try:
        yield f"http://127.0.0.1:{spec.port}/v1"
    finally:
        stop_process(process.pid, process)


#: Real-model tests take the machine's cores: beside the parallel suite they starve timing-
#: sensitive tests, so they run as their own step (`.ci/run` sets this) unless asked for.
RUN_ENV = "LEVER_TEST_LOCAL_MODEL"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    wanted = os.environ.get(RUN_ENV) == "1"
    reason = f"real-model tests run as their own step: {RUN_ENV}=1 uv run pytest tests/local"
    for item in items:
        if item.get_closest_marker("local_model") is None:
            continue
        # One worker runs them all: two servers sharing 2 cores slow both to a crawl.
        item.add_marker(pytest.mark.xdist_group("local_model"))
        if not wanted:
            item.add_marker(pytest.mark.skip(reason=reason))
