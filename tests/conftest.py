from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

# Hypothesis profiles: "ci" is the default (fast, for 2 cores); "thorough" is selected with
# ASYNCLAMBDA_HYPOTHESIS_PROFILE=thorough for long local runs.
settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=20, deadline=None)
settings.load_profile(os.environ.get("ASYNCLAMBDA_HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def anyio_backend() -> str:
    """asynclambda targets asyncio (and uvloop); the anyio pytest plugin runs tests on it."""
    return "asyncio"


FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


@pytest.fixture
def fixtures_dir() -> str:
    """Directory of handler files the tests load by path."""
    return FIXTURES


@pytest.fixture(autouse=True)
def _no_host_region(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runtimes default to the host's AWS_REGION: keep tests independent of the machine's."""
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
