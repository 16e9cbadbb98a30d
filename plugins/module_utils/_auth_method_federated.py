# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""``auth_method: federated``: workload identity federation, a token file (Kubernetes, GitHub Actions, ...) whose
content is the client assertion (MSAL confidential client)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.msgraph.grants.plugins.module_utils._auth_method_base import ConfidentialClientMethod
from ansible_collections.msgraph.grants.plugins.module_utils._errors import AuthError
from ansible_collections.msgraph.grants.plugins.module_utils._redaction import register_secret


class FederatedMethod(ConfidentialClientMethod):
    NAME = 'federated'
    LABEL = 'a federated token file (workload identity federation)'
    NEEDS = ('federated_token_file', 'tenant_id', 'client_id')
    AUTO_OPTION = 'federated_token_file'
    AUTO_NOUN = 'federated token file'
    FILE_OPTION = 'federated_token_file'

    def credential(self, settings):
        return {'client_assertion': make_assertion_reader(settings.federated_token_file)}

    def cache_credential(self, settings):
        # The path stands for the file, whose content rotates.
        return 'federated:' + settings.federated_token_file


def make_assertion_reader(path):
    """The callable MSAL calls for a fresh federated assertion: re-reads the file each time (it is rotated)."""
    def read_assertion():
        try:
            with open(path, 'r') as handle:
                assertion = handle.read().strip()
        except (IOError, OSError) as exc:
            raise AuthError('federated_token_file %s cannot be read: %s' % (path, exc.strerror or exc))
        if not assertion:
            raise AuthError('federated_token_file %s is empty' % path)
        register_secret(assertion)
        return assertion
    return read_assertion
