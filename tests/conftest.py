"""Shared fixtures: small scenarios and one finished run of each, built once per session."""

from __future__ import annotations

import pytest

from forumsim import Ecosystem, embedded_scenario


@pytest.fixture(scope="session")
def small_scenario():
    """2,000 people, an open, a restricted and a closed forum, 180 days."""
    return embedded_scenario("small")


@pytest.fixture(scope="session")
def small_run(small_scenario):
    """The small scenario stepped to its horizon (shared: do not mutate)."""
    return Ecosystem(small_scenario).run()


@pytest.fixture(scope="session")
def busy_run():
    """A short run of the default scenario, big enough for VIPs, moderators and bans."""
    return Ecosystem(embedded_scenario().overridden(people=6000, days=300, seed=3)).run()
