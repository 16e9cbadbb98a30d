# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""Secret redaction: every message the collection produces passes through ``redact`` (no token or secret leaks)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import threading

_REDACTED = '********'


class _Registry(object):
    """Values that must never appear in a message we produce (tokens acquired at run time, secrets from parameters).
    A module run is one short-lived process, so a process-wide registry is the simplest reliable scrubber. GraphClient
    sends ``$batch`` envelopes from several threads and a token refresh registers the new token meanwhile, so the
    tuple is replaced whole under the lock (copy-on-write) and never changed in place: ``redact`` reads whichever
    tuple is current without locking."""

    lock = threading.Lock()
    secrets = ()  # longest first, so a secret containing another one is removed whole


def register_secret(value):
    """Remember a sensitive value so that every GraphError message is scrubbed of it."""
    if value is None:
        return
    if not isinstance(value, str):
        try:
            value = value.decode('utf-8')
        except (AttributeError, UnicodeDecodeError):
            value = str(value)
    value = value.strip()
    if len(value) < 6:
        return
    with _Registry.lock:
        if value not in _Registry.secrets:
            _Registry.secrets = tuple(sorted(_Registry.secrets + (value,), key=len, reverse=True))


def redact(text):
    """Replace every registered secret (and anything that looks like a bearer token) in ``text``."""
    if text is None:
        return text
    if not isinstance(text, str):
        text = str(text)
    for secret in _Registry.secrets:
        if secret in text:
            text = text.replace(secret, _REDACTED)
    return re.sub(r'(?i)(bearer\s+)[A-Za-z0-9\-_.~+/=]{8,}', r'\1' + _REDACTED, text)
