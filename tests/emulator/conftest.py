"""Fixtures for the emulator's own tests: one emulator subprocess per test module, reset before each test."""

import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "emulator"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from graph_emulator.testing import running_emulator  # noqa: E402  pylint: disable=wrong-import-position
from emu_helpers import Api  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture(scope="module", name="emulator")
def emulator_fixture(tmp_path_factory):
    """One emulator subprocess per test module (startup costs ~0.3 s; a reset costs ~1 ms)."""
    with running_emulator(tmp_path_factory.mktemp("emulator")) as emu:
        yield emu


@pytest.fixture(scope="module", name="module_token")
def module_token_fixture(emulator):
    # Tokens are signed with a key kept in the state dir, so one token stays valid across resets.
    return emulator.token()


@pytest.fixture(name="clean_emulator")
def clean_emulator_fixture(emulator):
    """The module's emulator, reset: default seed, empty request log, no faults."""
    emulator.control.reset()
    return emulator


@pytest.fixture(name="api")
def api_fixture(clean_emulator, module_token):
    """A reset emulator and a Graph client authenticated as the default automation app."""
    return Api(clean_emulator, module_token)
