# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the module tests share besides the ``run_module`` fixture (``tests/unit/plugins/modules/conftest.py``): the
connection options every run gets, the secret that must never show, the result record and the ansible-core skip
marker."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19
    patch_module_args = None

needs_patch_module_args = pytest.mark.skipif(
    patch_module_args is None, reason='ansible.module_utils.testing.patch_module_args needs ansible-core >= 2.19')

SECRET = 'Unit-Test-Client-Secret-5f3a9c1e'
CONNECTION = {'tenant_id': 'contoso.onmicrosoft.com', 'client_id': '0c7f5a3e-1111-4222-8333-944455556666',
              'client_secret': SECRET, 'token_cache': 'off'}


class ModuleRun(object):
    def __init__(self, rc, result, stdout):
        self.rc = rc
        self.result = result
        self.stdout = stdout

    @property
    def failed(self):
        return bool(self.result.get('failed'))

    @property
    def msg(self):
        return self.result.get('msg', '')
