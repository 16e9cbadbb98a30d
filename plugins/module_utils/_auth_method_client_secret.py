# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""``auth_method: client_secret``: a client secret of the application registration (MSAL confidential client)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib

from ansible_collections.msgraph.grants.plugins.module_utils._auth_method_base import ConfidentialClientMethod
from ansible_collections.msgraph.grants.plugins.module_utils._redaction import register_secret


class ClientSecretMethod(ConfidentialClientMethod):
    NAME = 'client_secret'
    LABEL = 'a client secret'
    NEEDS = ('client_secret', 'tenant_id', 'client_id')
    AUTO_OPTION = 'client_secret'
    AUTO_NOUN = 'client secret'

    def credential(self, settings):
        register_secret(settings.client_secret)
        return settings.client_secret

    def cache_credential(self, settings):
        # Only a hash of the secret goes into the (hashed) file name.
        return 'secret:' + hashlib.sha256(settings.client_secret.encode('utf-8')).hexdigest()
