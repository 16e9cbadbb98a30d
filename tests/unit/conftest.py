# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Make the collection importable as ``ansible_collections.msgraph.grants`` when pytest runs from the repository
root (``.venv/bin/python -m pytest tests/unit``), exactly as ``ansible-test units`` lays it out.

The repository root is the collection root, so a temporary ``ansible_collections/msgraph/grants`` symlink pointing
at it is created and its parent put first on ``sys.path``. Under ansible-test (the collection already lives in an
``ansible_collections/<ns>/<name>`` tree) nothing is done.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import atexit
import os
import shutil
import sys
import tempfile

COLLECTION_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


def _already_in_collection_tree():
    parts = COLLECTION_ROOT.split(os.sep)
    return len(parts) >= 3 and parts[-3] == 'ansible_collections'


def _install_symlink_tree():
    base = tempfile.mkdtemp(prefix='msgraph-grants-collections-')
    atexit.register(shutil.rmtree, base, True)
    namespace_dir = os.path.join(base, 'ansible_collections', 'msgraph')
    os.makedirs(namespace_dir)
    os.symlink(COLLECTION_ROOT, os.path.join(namespace_dir, 'grants'))
    sys.path.insert(0, base)
    # A previously imported (empty) ansible_collections namespace would hide the new path entry.
    for name in [n for n in sys.modules if n == 'ansible_collections' or n.startswith('ansible_collections.')]:
        del sys.modules[name]


if _already_in_collection_tree():
    _parent = os.path.abspath(os.path.join(COLLECTION_ROOT, '..', '..', '..'))
    if _parent not in sys.path:
        sys.path.insert(0, _parent)
else:
    _install_symlink_tree()


# ------------------------------------------------------------------------------------------------------------------
# Fixtures: a scripted HTTP(S) server on 127.0.0.1 and a throw-away PKI (tests/unit/utils/http_server.py, pki.py).
# ------------------------------------------------------------------------------------------------------------------

import pytest  # noqa: E402

from ansible_collections.msgraph.grants.tests.unit.utils.http_server import ScriptedServer  # noqa: E402
from ansible_collections.msgraph.grants.tests.unit.utils.pki import Pki  # noqa: E402


@pytest.fixture(scope='session')
def pki(tmp_path_factory):
    return Pki(tmp_path_factory.mktemp('pki'))


@pytest.fixture
def http_server():
    server = ScriptedServer()
    yield server
    server.close()


@pytest.fixture
def https_server(pki):
    server = ScriptedServer(pki.server_context())
    yield server
    server.close()
