"""Remembers whether a docker test failed, so the deployment fixture prints
the containers' logs at teardown only when they can explain something."""

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if outcome.get_result().failed:
        item.session.rapport_docker_failed = True
