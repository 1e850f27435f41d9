"""A pytest plugin: a test fails if a fake model server it used saw unpaired tool calls.

Loaded for lever's own suite by `-p lever.testing.pytest_plugin` (pyproject.toml). The check runs
at the end of the test's call phase, so a known failure can be marked `xfail` like any other.
A test that sends unpaired calls on purpose takes them with `FakeModelServer.take_violations()`.
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

from lever.testing import fake_checks


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    fake_checks.watch()  # servers made by fixtures count too
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    result = yield
    servers = list(fake_checks.watched())
    violations = [v for server in servers for v in server.take_violations()]
    if violations:
        raise AssertionError(fake_checks.describe(violations))
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    try:
        return (yield)
    finally:
        fake_checks.unwatch()
