# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""``admin_consent``'s options are built once (``_consent_options``): the module's DOCUMENTATION and the role's
``delegated_permissions_admin_consent`` items agree with that spec."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.msgraph.grants.plugins.module_utils._consent_options import consent_options
from ansible_collections.msgraph.grants.plugins.modules import admin_consent
from ansible_collections.msgraph.grants.tests.unit.plugins.modules.test_option_specs import (
    ROLE_PREFIX,
    documented,
    module_spec,
    role_options,
    shape,
)


def test_module_documentation_agrees_with_the_spec_it_builds(monkeypatch):
    assert shape(documented(admin_consent), doc=True) == shape(module_spec(admin_consent, monkeypatch))
    assert shape(module_spec(admin_consent, monkeypatch)) == shape(consent_options())


def test_the_role_declares_the_admin_consent_options():
    item = role_options()[ROLE_PREFIX + 'admin_consent']
    assert item['type'] == 'list' and item['elements'] == 'dict'
    assert shape(item['options']) == shape(consent_options())
