"""Fixtures for the emulator's own tests: one emulator subprocess per test module, reset before each test."""

import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "emulator"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from graph_emulator.testing import running_emulator  # noqa: E402  pylint: disable=wrong-import-position
from emu_helpers import Api  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    with running_emulator(tmp_path_factory.mktemp("emulator")) as emu:
        yield emu


@pytest.fixture(scope="module")
def module_token(emulator):
    # Tokens are signed with a key kept in the state dir, so one token stays valid across resets.
    return emulator.token()


@pytest.fixture
def api(emulator, module_token):
    """A reset emulator and a Graph client authenticated as the default automation app."""
    emulator.control.reset()
    return Api(emulator, module_token)
