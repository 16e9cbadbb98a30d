# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test helper for the integration targets: one call to the Graph emulator's control plane (/_emulator/...).

It runs inside the controller process, so a control call costs milliseconds where an ansible.builtin.uri task costs a
whole module run (about a second), which matters when every scenario sets faults or reads the request log.
Not part of the collection.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: graph_emulator
short_description: Call the Graph emulator's control plane (integration-test helper)
description:
  - Sends one request to C({emulator_url}/_emulator/{path}) and returns the JSON answer.
options:
  _terms:
    description: The control path after C(/_emulator/), for example C(faults) or C(requests?since=12).
    required: true
  method:
    description: HTTP method.
    default: GET
  body:
    description: JSON body (for POST).
  emulator_url:
    description: The emulator's root URL.
    required: true
  ca_path:
    description: CA bundle that signs the emulator's certificate.
    required: true
'''

import json

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.urls import open_url
from ansible.plugins.lookup import LookupBase


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        method = self.get_option('method').upper()
        body = self.get_option('body')
        url = '%s/_emulator/%s' % (self.get_option('emulator_url').rstrip('/'), terms[0].lstrip('/'))
        data = None if body is None else json.dumps(body)
        headers = {'Content-Type': 'application/json'} if data is not None else {}
        try:
            response = open_url(url, method=method, data=data, headers=headers, ca_path=self.get_option('ca_path'),
                                timeout=30, use_proxy=False)
            text = to_text(response.read())
        except HTTPError as err:
            raise AnsibleError('%s %s: HTTP %s %s' % (method, url, err.code, to_text(err.read())))
        except URLError as err:
            raise AnsibleError('%s %s failed: %s' % (method, url, to_native(err)))
        return [json.loads(text) if text.strip() else None]
