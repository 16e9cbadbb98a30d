"""pytest plugin (entry point ``pytest11``, registered by the msgraph-emulator package): the ``msgraph_emulator``
fixture, a running emulator reset before each test (startup seed, empty request log, no faults).

    def test_my_playbook(msgraph_emulator):
        run = subprocess.run(["ansible-playbook", "site.yml"], env={**os.environ, **msgraph_emulator.env})
        assert msgraph_emulator.summary()["writes"] == 1

One emulator process serves the whole session. Its startup seed is ``--msgraph-emulator-seed FILE`` or the
``msgraph_emulator_seed`` ini option (YAML or JSON; relative to the rootdir), else the packaged default tenant.
"""

import os

import pytest

from .testing import running_emulator

SEED_OPTION = "msgraph_emulator_seed"


def pytest_addoption(parser):
    group = parser.getgroup("msgraph-emulator")
    group.addoption("--msgraph-emulator-seed", dest=SEED_OPTION, default=None,
                    help="startup seed of the msgraph_emulator fixture (YAML or JSON file)")
    parser.addini(SEED_OPTION, "startup seed of the msgraph_emulator fixture (YAML or JSON file, relative to the rootdir)")


def _seed_path(config):
    path = config.getoption(SEED_OPTION) or config.getini(SEED_OPTION)
    if not path:
        return None
    return path if os.path.isabs(path) else os.path.join(str(config.rootpath), path)


@pytest.fixture(scope="session")
def msgraph_emulator_session(request, tmp_path_factory):
    """The session's emulator process (not reset: use ``msgraph_emulator`` in tests)."""
    with running_emulator(tmp_path_factory.mktemp("msgraph-emulator"), seed=_seed_path(request.config)) as emulator:
        yield emulator


@pytest.fixture
def msgraph_emulator(msgraph_emulator_session):  # pylint: disable=redefined-outer-name
    """A running emulator, reset: ``url``, ``env``, ``requests()``, ``summary()``, ``reset()``, ``seed()``,
    ``set_faults()``, ``token()`` and ``control`` (the whole control plane)."""
    msgraph_emulator_session.reset()
    return msgraph_emulator_session
