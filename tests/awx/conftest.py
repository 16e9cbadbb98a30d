# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures of the AWX / AAP tests: the collection built and installed from its tarball (once per session).

Run like the other pytest suites (scripts/test.sh puts ``.tmp/collections`` and ``emulator`` on PYTHONPATH):

    PYTHONPATH=.tmp/collections:emulator .venv/bin/python -m pytest tests/awx -q
"""

import sys
import tarfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "emulator"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import clean_env, copy_source_tree, run_checked, venv_tool  # noqa: E402  pylint: disable=wrong-import-position


class BuiltCollection(object):
    """The tarball of the working tree and the collections path it was installed into."""

    def __init__(self, tarball, collections_path):
        self.tarball = tarball
        self.collections_path = collections_path
        self.root = collections_path / "ansible_collections" / "msgraph" / "grants"


@pytest.fixture(scope="session")
def built_collection(tmp_path_factory):
    """``ansible-galaxy collection build`` of the working tree as a clone has it, then ``install`` of the tarball.

    Built from a copy of the files git would commit (like scripts/test.sh's build stage), so that local venvs and
    caches of the working tree cannot end up in the tarball whatever galaxy.yml's build_ignore says.
    """
    base = tmp_path_factory.mktemp("collection")
    galaxy = venv_tool("ansible-galaxy")
    source = copy_source_tree(base / "src")
    env = clean_env(base / "empty")
    run_checked([galaxy, "collection", "build", "--force", "--output-path", base / "dist", source], cwd=str(base), env=env)
    tarballs = sorted((base / "dist").glob("msgraph-grants-*.tar.gz"))
    assert len(tarballs) == 1, tarballs
    with tarfile.open(str(tarballs[0])) as tar:
        names = tar.getnames()
    # What an execution environment build needs from the installed collection (ansible-builder introspection),
    # and what must stay out of it (galaxy.yml build_ignore).
    for needed in ("meta/execution-environment.yml", "meta/ee-requirements.txt", "meta/ee-bindep.txt",
                   "meta/runtime.yml", "roles/delegated_permissions/tasks/main.yml", "plugins/modules/oauth2_grants.py"):
        assert needed in names, "%s is missing from the tarball" % needed
    leaked = [n for n in names if n.split("/")[0] in ("tests", "emulator", "scripts", "requirements", ".tmp", "bench", "extensions")
              or n.startswith(".venv")]
    assert not leaked, "development files in the tarball (galaxy.yml build_ignore): %s" % leaked[:10]
    collections_path = base / "collections"
    run_checked([galaxy, "collection", "install", "--offline", "-p", collections_path, tarballs[0]],
                cwd=str(base), env=env)
    built = BuiltCollection(tarballs[0], collections_path)
    assert (built.root / "MANIFEST.json").is_file()
    return built
