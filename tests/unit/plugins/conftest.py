# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures of the strict fake Graph (``tests/unit/utils/fake_graph.py``), for the tests of module_utils/ and
modules/."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.msgraph.grants.tests.unit.utils.fake_graph import Sleeper, standard_tenant


@pytest.fixture
def fakes():
    """Factory of standard-tenant fakes; each one is checked (no violation, one grant per key) after the test."""
    made = []

    def make(api_version='v1.0'):
        graph = standard_tenant(api_version)
        made.append(graph)
        return graph
    yield make
    for graph in made:
        graph.check()


@pytest.fixture
def graph(fakes):
    return fakes()


@pytest.fixture
def sleeper():
    return Sleeper()
